// dhcp-port: the daemon's one DHCP server socket (UDP port 67) with the receiving interface of each
// datagram. Node's dgram has neither IP_PKTINFO nor SO_BINDTODEVICE, so two DHCP responders in one daemon
// (netboot on a thin-client link, the local-interface DHCP on VM taps) could not share port 67 and tell
// their clients apart; this program holds the socket and Node decides everything else
// (src/netboot/dhcp/port.ts routes each datagram to the responder of its interface).
//
// argv: PORT PARENT_PID. Runs as root only until the socket is bound, then as nobody.
// Frames on stdin/stdout: TYPE (1 byte), LENGTH (u16 big-endian, the body's), BODY. Addresses are 4 bytes.
//   stdout 'R' received:  IFINDEX u32, SRC_ADDR, SRC_PORT u16, DST_ADDR (the IP header's), DATAGRAM
//   stdout 'S' status:    text: "ready UID" | "send-failed WHY" | "failed WHY" (then exit 1)
//   stdin  'T' transmit:  IFINDEX u32 (0: by the routing table), SRC_ADDR, DST_ADDR, DST_PORT u16, DATAGRAM
// EOF on stdin, SIGTERM or the parent's death ends it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "run-as.h"

#define DATAGRAM_MAX 65507                /* any IPv4 UDP payload: Node's decoder, not this program, refuses an oversized one */
#define IN_BUF (3 + 65535 + 1024)   /* room for the largest frame */
#define RECV_HEADER 14                    /* ifindex 4, src addr 4, src port 2, dst addr 4 */
#define SEND_HEADER 14                    /* ifindex 4, src addr 4, dst addr 4, dst port 2 */
#define NOBODY_ID 65534

static void frame(char type, const void *a, size_t alen, const void *b, size_t blen) {
  static uint8_t out[3 + RECV_HEADER + DATAGRAM_MAX];
  size_t len = alen + blen;
  if (len > sizeof out - 3) return;
  out[0] = (uint8_t)type;
  out[1] = (uint8_t)(len >> 8);
  out[2] = (uint8_t)len;
  memcpy(out + 3, a, alen);
  if (blen) memcpy(out + 3 + alen, b, blen);
  // The only writer, so frames never interleave; a failed write means Node is gone.
  for (size_t done = 0; done < 3 + len;) {
    ssize_t n = write(STDOUT_FILENO, out + done, 3 + len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);
    done += (size_t)n;
  }
}

static void status(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  frame('S', line, (size_t)n, NULL, 0);
}

static _Noreturn void fail(const char *what) {
  status("failed %s%s%s", what, errno ? ": " : "", errno ? strerror(errno) : "");
  _exit(1);
}

static int open_socket(int port) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("socket(AF_INET, SOCK_DGRAM)");
  int one = 1;
  // SO_REUSEADDR: a DHCP server of another program bound to one address of another link may share the port.
  if (setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) fail("SO_REUSEADDR");
  if (setsockopt(sock, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) fail("SO_BROADCAST");
  if (setsockopt(sock, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) fail("IP_PKTINFO");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
    char what[128];
    snprintf(what, sizeof what, "binding UDP port %d (needs root; is another DHCP server on all addresses?)", port);
    fail(what);
  }
  return sock;
}

/** Root is needed only to bind port 67: from here on the program runs as nobody. */
static uid_t drop_root(void) {
  if (geteuid() != 0) return geteuid();
  struct passwd *pw = getpwnam("nobody");
  uid_t uid = pw ? pw->pw_uid : NOBODY_ID;
  if (run_as_switch(uid, pw ? pw->pw_gid : NOBODY_ID) != 0) { errno = 0; fail("dropping root"); }
  return uid;
}

static void receive_one(int sock) {
  static uint8_t data[DATAGRAM_MAX];
  union { char buf[CMSG_SPACE(sizeof(struct in_pktinfo))]; struct cmsghdr align; } control;
  struct sockaddr_in from;
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT);
  if (n < 0 || (msg.msg_flags & MSG_TRUNC)) return;
  struct in_pktinfo *info = NULL;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) info = (struct in_pktinfo *)CMSG_DATA(c);
  }
  if (!info) return; // without the interface nobody can tell whose client this is
  uint8_t head[RECV_HEADER];
  uint32_t ifindex = htonl((uint32_t)info->ipi_ifindex);
  memcpy(head, &ifindex, 4);
  memcpy(head + 4, &from.sin_addr.s_addr, 4);
  memcpy(head + 8, &from.sin_port, 2);
  memcpy(head + 10, &info->ipi_addr.s_addr, 4);
  frame('R', head, sizeof head, data, (size_t)n);
}

static void transmit(int sock, const uint8_t *body, size_t len) {
  if (len < SEND_HEADER) { status("send-failed a transmit frame shorter than its header"); return; }
  uint32_t ifindex;
  memcpy(&ifindex, body, 4);
  union { char buf[CMSG_SPACE(sizeof(struct in_pktinfo))]; struct cmsghdr align; } control;
  memset(&control, 0, sizeof control);
  struct sockaddr_in to = {.sin_family = AF_INET};
  memcpy(&to.sin_addr.s_addr, body + 8, 4);
  memcpy(&to.sin_port, body + 12, 2);
  struct iovec iov = {.iov_base = (void *)(body + SEND_HEADER), .iov_len = len - SEND_HEADER};
  struct msghdr msg = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
  struct in_pktinfo *info = (struct in_pktinfo *)CMSG_DATA(c);
  // The interface picks the link of a broadcast; the source address is the responder's own.
  info->ipi_ifindex = (int)ntohl(ifindex);
  memcpy(&info->ipi_spec_dst.s_addr, body + 4, 4);
  if (sendmsg(sock, &msg, 0) < 0) {
    char dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &to.sin_addr, dst, sizeof dst);
    status("send-failed to %s via interface %u: %s", dst, (unsigned)ntohl(ifindex), strerror(errno));
  }
}

int main(int argc, char **argv) {
  if (argc != 3) { errno = 0; fail("bad arguments: PORT PARENT_PID"); }
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != (pid_t)strtol(argv[2], NULL, 10)) { errno = 0; fail("parent gone"); }
  long port = strtol(argv[1], NULL, 10);
  if (port <= 0 || port > 65535) { errno = 0; fail("bad arguments: PORT is not a UDP port"); }
  int sock = open_socket((int)port);
  uid_t uid = drop_root();
  status("ready %u", (unsigned)uid);

  static uint8_t in[IN_BUF];
  size_t have = 0;
  struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    if (fds[0].revents & POLLIN) receive_one(sock);
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(STDIN_FILENO, in + have, sizeof in - have);
      if (n == 0) return 0; // the daemon closed the port
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        fail("reading stdin");
      }
      have += (size_t)n;
      size_t off = 0;
      while (have - off >= 3) {
        size_t len = ((size_t)in[off + 1] << 8) | in[off + 2];
        if (have - off < 3 + len) break;
        if (in[off] == 'T') transmit(sock, in + off + 3, len);
        else status("send-failed unknown frame type %u", in[off]);
        off += 3 + len;
      }
      memmove(in, in + off, have - off);
      have -= off;
    }
  }
}
