// ra-responder: answers IPv6 router solicitations on one thin-client interface with the router
// advertisement Node encoded (src/netboot/ra/codec.ts: router lifetime 0, M=0 O=0, no prefixes), so
// iPXE's IPv6 autoconfiguration ends at once instead of after ~13 s of unanswered solicitations.
// Node has no raw ICMPv6 sockets; this program holds one and nothing else, and Node decides the rest.
//
// argv: IFNAME RA_HEX PARENT_PID   (RA_HEX: the ICMPv6 message from its type on, checksum zero)
// Runs as root only until the socket is open, then as nobody. Status lines on stdout, one per event:
//   "ready IFINDEX UID"                 listening (UID: the user it now runs as)
//   "answered ADDR unicast|multicast"   an RS was answered (unicast to its source, multicast if that was ::)
//   "dropped ADDR WHY"                  an RS was not answered (invalid, rate-limited, send failed)
//   "other-router ADDR"                 a real router advertises here (a lifetime, M/O, or a prefix): we stop
//   "failed WHY"                        cannot run (exit 1)
// Only solicitors get our RA (unicast), so other hosts never see it; an RS from :: gets it multicast
// at most once per MIN_DELAY_BETWEEN_RAS (RFC 4861 10). SIGTERM or the parent's death ends it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "run-as.h"

#define RA_MAX 512
#define RECV_MAX 1500
#define NDP_HOP_LIMIT 255                  /* RFC 4861 6.1: NDP messages must arrive with hop limit 255 */
#define MULTICAST_GAP_MS 3000              /* RFC 4861 MIN_DELAY_BETWEEN_RAS */
#define UNICAST_PER_SECOND 20              /* a flood of RS never turns into a flood of RA */
#define NOBODY_ID 65534

static void status(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  (void)!write(STDOUT_FILENO, line, (size_t)n);
}

static _Noreturn void fail(const char *what) {
  status("failed %s%s%s", what, errno ? ": " : "", errno ? strerror(errno) : "");
  _exit(1);
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static size_t hex_decode(const char *hex, uint8_t *out, size_t max) {
  size_t len = strlen(hex);
  if (len % 2 != 0 || len / 2 > max || len / 2 < 16) { errno = 0; fail("bad arguments: RA_HEX must be 16 to 512 bytes of hex"); }
  for (size_t i = 0; i < len / 2; i++) {
    unsigned int byte;
    if (sscanf(hex + 2 * i, "%2x", &byte) != 1) { errno = 0; fail("bad arguments: RA_HEX is not hex"); }
    out[i] = (uint8_t)byte;
  }
  if (out[0] != ND_ROUTER_ADVERT) { errno = 0; fail("bad arguments: RA_HEX is not a router advertisement"); }
  return len / 2;
}

static void set_opt(int sock, int level, int name, int value, const char *what) {
  if (setsockopt(sock, level, name, &value, sizeof value) != 0) fail(what);
}

static int open_socket(const char *ifname, unsigned int ifindex) {
  int sock = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (sock < 0) fail("socket(AF_INET6, SOCK_RAW, ICMPV6) (needs root or CAP_NET_RAW)");
  if (setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) != 0) fail("SO_BINDTODEVICE");
  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &filter);
  if (setsockopt(sock, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) fail("ICMP6_FILTER");
  set_opt(sock, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
  set_opt(sock, IPPROTO_IPV6, IPV6_UNICAST_HOPS, NDP_HOP_LIMIT, "IPV6_UNICAST_HOPS");
  set_opt(sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, NDP_HOP_LIMIT, "IPV6_MULTICAST_HOPS");
  set_opt(sock, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex, "IPV6_MULTICAST_IF");
  set_opt(sock, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP");
  // Router solicitations go to ff02::2, which a host that does not forward has not joined.
  struct ipv6_mreq all_routers = {.ipv6mr_interface = ifindex};
  inet_pton(AF_INET6, "ff02::2", &all_routers.ipv6mr_multiaddr);
  if (setsockopt(sock, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &all_routers, sizeof all_routers) != 0) fail("joining ff02::2");
  return sock;
}

/** Root is needed only for the socket: from here on the program runs as nobody, without capabilities. */
static uid_t drop_root(void) {
  if (geteuid() != 0) return geteuid();
  struct passwd *pw = getpwnam("nobody");
  uid_t uid = pw ? pw->pw_uid : NOBODY_ID;
  if (run_as_switch(uid, pw ? pw->pw_gid : NOBODY_ID) != 0) { errno = 0; fail("dropping root"); }
  return uid;
}

/** Options are 8-byte blocks with a non-zero length that fit the message (RFC 4861 6.1). */
static bool options_valid(const uint8_t *opt, size_t len, bool *has_slla, bool *has_prefix) {
  *has_slla = false, *has_prefix = false;
  for (size_t off = 0; off < len;) {
    if (len - off < 2 || opt[off + 1] == 0 || (size_t)opt[off + 1] * 8 > len - off) return false;
    if (opt[off] == ND_OPT_SOURCE_LINKADDR) *has_slla = true;
    if (opt[off] == ND_OPT_PREFIX_INFORMATION) *has_prefix = true;
    off += (size_t)opt[off + 1] * 8;
  }
  return true;
}

static int hop_limit_of(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      int hops;
      memcpy(&hops, CMSG_DATA(c), sizeof hops);
      return hops;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 4) { errno = 0; fail("bad arguments: IFNAME RA_HEX PARENT_PID"); }
  signal(SIGTERM, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != (pid_t)strtol(argv[3], NULL, 10)) { errno = 0; fail("parent gone"); }
  uint8_t ra[RA_MAX];
  size_t ra_len = hex_decode(argv[2], ra, sizeof ra);
  unsigned int ifindex = if_nametoindex(argv[1]);
  if (ifindex == 0) fail("no such interface");
  int sock = open_socket(argv[1], ifindex);
  uid_t uid = drop_root();
  status("ready %u %u", ifindex, (unsigned)uid);

  long long last_multicast = -MULTICAST_GAP_MS, window_start = 0;
  int window_count = 0;
  for (;;) {
    uint8_t buf[RECV_MAX];
    char control[CMSG_SPACE(sizeof(int)) * 4];
    struct sockaddr_in6 from;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n = recvmsg(sock, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("recvmsg");
    }
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &from.sin6_addr, addr, sizeof addr);
    bool has_slla, has_prefix;
    bool unspecified = IN6_IS_ADDR_UNSPECIFIED(&from.sin6_addr);
    if (n < 8 || buf[1] != 0 || hop_limit_of(&msg) != NDP_HOP_LIMIT) { status("dropped %s invalid", addr); continue; }
    if (buf[0] == ND_ROUTER_ADVERT) {
      if (n < 16 || !IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr) || !options_valid(buf + 16, (size_t)n - 16, &has_slla, &has_prefix)) continue;
      uint16_t lifetime = (uint16_t)(buf[6] << 8 | buf[7]);
      bool managed_or_other = (buf[5] & 0xc0) != 0;
      // An advertisement like ours (another Ardesia on the link) is no reason to stop; a real router's is.
      if (lifetime == 0 && !managed_or_other && !has_prefix) continue;
      status("other-router %s", addr);
      _exit(0);
    }
    if (!options_valid(buf + 8, (size_t)n - 8, &has_slla, &has_prefix) || (unspecified && has_slla)) { status("dropped %s invalid", addr); continue; }
    long long now = now_ms();
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_scope_id = ifindex};
    if (unspecified) {
      if (now - last_multicast < MULTICAST_GAP_MS) { status("dropped %s rate-limited", addr); continue; }
      inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
      last_multicast = now;
    } else {
      if (now - window_start >= 1000) window_start = now, window_count = 0;
      if (++window_count > UNICAST_PER_SECOND) { status("dropped %s rate-limited", addr); continue; }
      to.sin6_addr = from.sin6_addr;
    }
    // The kernel fills in the ICMPv6 checksum and picks our link-local address as the source.
    if (sendto(sock, ra, ra_len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
      status("dropped %s send: %s", addr, strerror(errno));
      continue;
    }
    status("answered %s %s", addr, unspecified ? "multicast" : "unicast");
  }
}
