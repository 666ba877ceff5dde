// tftp-sender: one TFTP read transfer (RFC 1350 + 2347 OACK) after the Node server decoded the
// request, checked the name, opened the file under the root and negotiated the options. Node spends
// ~20 µs of CPU per datagram; here a block costs one recv and one send (the file is read ahead
// in chunks of ~128 KiB, so a client never costs more than that in memory).
//
// argv: LOCAL_ADDR CLIENT_ADDR CLIENT_PORT SIZE BLKSIZE TIMEOUT_MS MAX_RESENDS PARENT_PID [NAME VALUE]...
//   (the name/value pairs are the accepted options: sent as an OACK first, else block 1 goes first)
// fds: 1 the end line for the server, 2 errors, 3 the open file (read with pread only).
// End line, exactly one: "ok BYTES BLOCKS RESENDS\n" or "failed RESENDS WHY\n".
// SIGTERM (the server closes, or its death through PR_SET_PDEATHSIG) sends the client an ERROR and ends.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
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

#define FD_END 1
#define FD_FILE 3
#define OP_ACK 4
#define OP_ERROR 5
#define OP_DATA 3
#define OP_OACK 6
#define ERR_NOT_DEFINED 0
#define ERR_ILLEGAL_OPERATION 4
#define MIN_BLKSIZE 8
#define MAX_BLKSIZE 65464
#define RECV_MAX 65536     /* any datagram a peer can send fits; longer ones are cut and judged by their opcode */
#define OACK_MAX 512       /* RFC 2347: an OACK fits where the request did */
#define WHY_MAX 240
#define TIMEOUT_MAX_MS 10000 /* codec.ts MAX_TIMEOUT_SECONDS: a silent client holds a sender timeout × (1 + resends) at most */
#define CHUNK_BYTES (128 * 1024) /* read ahead in one pread: one read syscall per ~89 blocks of 1468 bytes */

static int sock = -1;
static volatile sig_atomic_t resends_total;

/** Unsigned decimal into `out` without stdio: used from the signal handler too. */
static size_t put_u64(char *out, unsigned long long v) {
  char tmp[24];
  size_t n = 0, i = 0;
  do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  while (n > 0) out[i++] = tmp[--n];
  return i;
}

static size_t put_str(char *out, const char *s) {
  size_t n = strlen(s);
  memcpy(out, s, n);
  return n;
}

/** Writes the one end line; everything in it is async-signal-safe. */
static void write_end_failed(const char *why) {
  char line[WHY_MAX + 48];
  size_t n = put_str(line, "failed ");
  n += put_u64(line + n, (unsigned long long)resends_total);
  line[n++] = ' ';
  for (const char *c = why; *c && n < sizeof line - 2; c++) line[n++] = (*c == '\n' || *c == '\r') ? ' ' : *c;
  line[n++] = '\n';
  (void)!write(FD_END, line, n);
}

static void send_error(int code, const char *message) {
  char pkt[4 + WHY_MAX + 1];
  size_t len = strnlen(message, WHY_MAX);
  pkt[0] = 0, pkt[1] = OP_ERROR, pkt[2] = (char)(code >> 8), pkt[3] = (char)code;
  memcpy(pkt + 4, message, len);
  pkt[4 + len] = 0;
  if (sock >= 0) (void)!send(sock, pkt, 5 + len, MSG_DONTWAIT);
}

/** No SIGTERM between here and exit: exactly one end line. */
static void hold_signals(void) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
}

static _Noreturn void fail(int error_code, const char *why) {
  hold_signals();
  if (error_code >= 0) send_error(error_code, why);
  write_end_failed(why);
  _exit(1);
}

static void on_terminate(int sig) {
  (void)sig;
  fail(ERR_NOT_DEFINED, "server shutting down");
}

static unsigned long long arg_number(const char *s, unsigned long long min, unsigned long long max) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || *s == '-' || v < min || v > max) fail(-1, "bad arguments");
  return v;
}

static struct sockaddr_in arg_address(const char *s, unsigned long long port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, s, &a.sin_addr) != 1) fail(-1, "bad arguments");
  return a;
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct transfer {
  unsigned long long size, blksize, last_block;
  unsigned long long block;           /* the block in flight (0: the OACK), not wrapped */
  unsigned char *pkt;                 /* the packet in flight, resent as is on timeout */
  size_t pkt_len;
  unsigned char *chunk;               /* file bytes [chunk_start, chunk_start + chunk_len) */
  unsigned long long chunk_start;
  size_t chunk_len, chunk_cap;
  long long timeout_ms;
  unsigned max_resends, resends_in_row;
};

/** Fills the read-ahead chunk from `offset` (a block boundary) with whole blocks, up to the end of the file. */
static void read_chunk(struct transfer *t, unsigned long long offset) {
  size_t want = t->size - offset < t->chunk_cap ? (size_t)(t->size - offset) : t->chunk_cap;
  size_t got = 0;
  while (got < want) {
    ssize_t r = pread(FD_FILE, t->chunk + got, want - got, (off_t)(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      char why[WHY_MAX];
      snprintf(why, sizeof why, "read failed: %s", strerror(errno));
      fail(ERR_NOT_DEFINED, why);
    }
    if (r == 0) fail(ERR_NOT_DEFINED, "read failed: the file shrank during the transfer");
    got += (size_t)r;
  }
  t->chunk_start = offset;
  t->chunk_len = want;
}

/** Puts block n (1-based) into the DATA packet; a file of exactly k blocks ends with an empty block k+1. */
static void load_block(struct transfer *t, unsigned long long n) {
  unsigned long long offset = (n - 1) * t->blksize;
  size_t want = offset >= t->size ? 0 : (size_t)(t->size - offset < t->blksize ? t->size - offset : t->blksize);
  if (want > 0 && (offset < t->chunk_start || offset + want > t->chunk_start + t->chunk_len)) read_chunk(t, offset);
  memcpy(t->pkt + 4, t->chunk + (offset - t->chunk_start), want);
  t->pkt[0] = 0, t->pkt[1] = OP_DATA, t->pkt[2] = (unsigned char)(n >> 8), t->pkt[3] = (unsigned char)n;
  t->block = n;
  t->pkt_len = 4 + want;
}

/** Sends the packet in flight; a lost send is repaired by the timeout like a lost packet. */
static void transmit(struct transfer *t) {
  for (;;) {
    if (send(sock, t->pkt, t->pkt_len, 0) >= 0) return;
    if (errno == EINTR) continue;
    if (errno == ECONNREFUSED) fail(-1, "socket: the client's port is closed");
    return;
  }
}

static _Noreturn void fail_client_error(const unsigned char *msg, size_t n) {
  char why[WHY_MAX];
  int len = snprintf(why, sizeof why, "client error %u: ", (unsigned)(msg[2] << 8 | msg[3]));
  for (size_t i = 4; i < n && msg[i] != 0 && (size_t)len < sizeof why - 1; i++)
    why[len++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? (char)msg[i] : '?';
  why[len] = '\0';
  fail(-1, why);
}

/** Resends the packet in flight, or gives up after max_resends in a row. */
static void on_timeout(struct transfer *t) {
  if (t->resends_in_row >= t->max_resends) {
    char why[WHY_MAX];
    snprintf(why, sizeof why, "no ACK for block %llu after %u resends", t->block, t->max_resends);
    fail(-1, why);
  }
  t->resends_in_row++;
  resends_total++;
  transmit(t);
}

static void run(struct transfer *t) {
  static unsigned char in[RECV_MAX];
  struct timeval tv = {.tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000};
  if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) fail(ERR_NOT_DEFINED, "socket: cannot set the timeout");
  long long deadline = now_ms() + t->timeout_ms;
  transmit(t);
  for (;;) {
    ssize_t n = recv(sock, in, sizeof in, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        on_timeout(t);
        deadline = now_ms() + t->timeout_ms;
        continue;
      }
      if (errno == ECONNREFUSED) fail(-1, "socket: the client's port is closed");
      char why[WHY_MAX];
      snprintf(why, sizeof why, "socket: %s", strerror(errno));
      fail(ERR_NOT_DEFINED, why);
    }
    if (n >= 4 && in[0] == 0 && in[1] == OP_ACK) {
      // Only the ACK of the block in flight moves on; duplicates are ignored (Sorcerer's Apprentice).
      if (n == 4 && (unsigned)(in[2] << 8 | in[3]) == (t->block & 0xffff)) {
        if (t->block == t->last_block) {
          hold_signals();
          char line[96];
          int len = snprintf(line, sizeof line, "ok %llu %llu %llu\n", t->size, t->last_block, (unsigned long long)resends_total);
          (void)!write(FD_END, line, (size_t)len);
          return;
        }
        load_block(t, t->block + 1);
        t->resends_in_row = 0;
        deadline = now_ms() + t->timeout_ms;
        transmit(t);
        continue;
      }
    } else if (n >= 4 && in[0] == 0 && in[1] == OP_ERROR) {
      fail_client_error(in, (size_t)n);
    } else if (n >= 4) {
      fail(ERR_ILLEGAL_OPERATION, "only ACKs are expected during a read");
    }
    // A duplicate ACK or a garbled datagram: no progress, so the timeout still counts.
    if (now_ms() >= deadline) {
      on_timeout(t);
      deadline = now_ms() + t->timeout_ms;
    }
  }
}

/** The OACK of the accepted options, name\0value\0 after the opcode. */
static size_t build_oack(unsigned char *out, size_t cap, char **pairs, int count) {
  size_t len = 2;
  out[0] = 0, out[1] = OP_OACK;
  for (int i = 0; i < count; i++) {
    size_t n = strlen(pairs[i]) + 1;
    if (len + n > cap) fail(-1, "bad arguments: options too long");
    memcpy(out + len, pairs[i], n);
    len += n;
  }
  return len;
}

int main(int argc, char **argv) {
  if (argc < 9 || (argc - 9) % 2 != 0) fail(-1, "bad arguments: LOCAL CLIENT PORT SIZE BLKSIZE TIMEOUT_MS MAX_RESENDS PARENT_PID [NAME VALUE]...");
  struct sigaction sa = {.sa_handler = on_terminate};
  sigfillset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  // If the server dies, its transfers end with it; the check closes the race with a parent that already died.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if ((unsigned long long)getppid() != arg_number(argv[8], 1, 1u << 30)) fail(-1, "server gone");

  struct transfer t = {0};
  struct sockaddr_in local = arg_address(argv[1], 0);
  struct sockaddr_in client = arg_address(argv[2], arg_number(argv[3], 1, 65535));
  t.size = arg_number(argv[4], 0, 1ULL << 50);
  t.blksize = arg_number(argv[5], MIN_BLKSIZE, MAX_BLKSIZE);
  t.timeout_ms = (long long)arg_number(argv[6], 1, TIMEOUT_MAX_MS);
  t.max_resends = (unsigned)arg_number(argv[7], 0, 1000);
  t.last_block = t.size / t.blksize + 1;
  t.pkt = malloc(4 + t.blksize > OACK_MAX ? 4 + t.blksize : OACK_MAX);
  t.chunk_cap = (CHUNK_BYTES / t.blksize > 0 ? CHUNK_BYTES / t.blksize : 1) * t.blksize;
  t.chunk = malloc(t.chunk_cap);
  if (!t.pkt || !t.chunk) fail(-1, "out of memory");

  // Our own ephemeral port is the transfer ID; connect() makes the kernel drop foreign TIDs.
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || bind(s, (struct sockaddr *)&local, sizeof local) < 0 || connect(s, (struct sockaddr *)&client, sizeof client) < 0) {
    char why[WHY_MAX];
    snprintf(why, sizeof why, "socket: %s", strerror(errno));
    fail(-1, why);
  }
  sock = s;
  // The socket is bound and the file (fd 3) open: root is no longer needed (run-as.h keeps the
  // parent-death signal); the parent is checked again, it may have died during the switch.
  if (run_as_drop() != 0) fail(-1, "cannot drop root");
  if ((unsigned long long)getppid() != arg_number(argv[8], 1, 1u << 30)) fail(-1, "server gone");
  if (argc > 9) {
    t.pkt_len = build_oack(t.pkt, OACK_MAX, argv + 9, argc - 9);
    t.block = 0;
  } else {
    load_block(&t, 1);
  }
  run(&t);
  return 0;
}
