// display-hop: the display's hop between the controller's host and an agent's host, in TLS done here (OpenSSL)
// rather than in either Node event loop, so that the native relay stays on the hot path on both hops. Two roles:
//
//   display-hop listen ADDR PEER  (the controller) binds ADDR:0, says "L port", and accepts until one connection from
//       PEER (the address the agent's link comes from) completes TLS with the controller's certificate and sends the
//       stream's one-time secret; each other connection is refused ("R why"; one from elsewhere before any TLS) and the
//       next one awaited, until the deadline ("X timeout", exit 2). Then "A", and the TLS stream is piped to fd 3 (a
//       socket the daemon's display pipe holds).
//   display-hop dial         (an agent) fd 4 is TCP to the controller's ADDR:port; TLS, the controller's certificate
//       checked against the pinned SHA-256 fingerprint before anything is sent ("R fingerprint …", exit 3), then the
//       secret, then the TLS stream is piped to fd 3 (the VM's VNC socket).
//
// fds: 0 commands ("C n\n"+n bytes: the certificate and key PEM, listen only; "F hex\n" the pinned fingerprint and
// "P n\n"+n bytes what the daemon had already read from the plain side (QEMU's VNC greeting comes at once), dial only;
// "S secret\n"; "G\n" go), 1 status lines, 2 errors, 3 the plain side, 4 the TCP side (dial).
// The end: "E toPlain toTls endedBy\n" (endedBy: plain, tls or error). EOF on fd 0 = drop everything.
// Runs as ARDESIA_RUN_AS (native/run-as.h) from its first instruction on: it only needs the fds it is given, and
// listening on a port above 1023.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "daemon-commands.h"
#include "run-as.h"
#include "tls-pipe.h"

#define FD_CTL 0
#define FD_STATUS 1
#define FD_PLAIN 3
#define FD_TCP 4
#define SECRET_MAX 128
#define PEM_MAX (64 * 1024)
#define ACCEPT_WITHIN_MS 10000   /* the agent dials at once; its secret is dead after this (agent-streams.ts) */
#define HANDSHAKE_WITHIN_MS 5000 /* one connection's TLS handshake and secret */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  for (int i = 0; i < n - 1; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  ssize_t w = write(FD_STATUS, line, (size_t)n);
  (void)w;
}

/* The daemon's commands before the start: certificate+key, fingerprint, secret, then "G". */
struct commands {
  char *pem;
  size_t pem_len;
  unsigned char *prefix;
  size_t prefix_len;
  unsigned char fingerprint[32];
  bool have_fingerprint;
  char secret[SECRET_MAX + 1];
  size_t secret_len;
};

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_commands(struct commands *c) {
  char line[256];
  for (;;) {
    if (!read_line(FD_CTL, line, sizeof line)) return false;
    if (strcmp(line, "G") == 0) return c->secret_len > 0;
    if (line[0] == 'C' && line[1] == ' ') {
      size_t n = strtoul(line + 2, NULL, 10);
      if (n == 0 || n > PEM_MAX) return false;
      free(c->pem);
      c->pem = malloc(n);
      if (!c->pem || !read_exact(FD_CTL, c->pem, n)) return false;
      c->pem_len = n;
    } else if (line[0] == 'P' && line[1] == ' ') {
      size_t n = strtoul(line + 2, NULL, 10);
      if (n == 0 || n > TLS_PIPE_BUF) return false;
      free(c->prefix);
      c->prefix = malloc(n);
      if (!c->prefix || !read_exact(FD_CTL, c->prefix, n)) return false;
      c->prefix_len = n;
    } else if (line[0] == 'F' && line[1] == ' ') {
      size_t j = 0;
      for (const char *p = line + 2; *p; p++) {
        if (*p == ':') continue;
        int hi = hex_value(*p), lo = p[1] ? hex_value(p[1]) : -1;
        if (hi < 0 || lo < 0 || j >= sizeof c->fingerprint) return false;
        c->fingerprint[j++] = (unsigned char)(hi * 16 + lo);
        p++;
      }
      if (j != sizeof c->fingerprint) return false;
      c->have_fingerprint = true;
    } else if (line[0] == 'S' && line[1] == ' ') {
      size_t n = strlen(line + 2);
      if (n == 0 || n > SECRET_MAX) return false;
      memcpy(c->secret, line + 2, n + 1);
      c->secret_len = n;
    } else {
      return false;
    }
  }
}

static void tcp_tune(int fd) {
  int one = 1, idle = 30, intvl = 10, cnt = 3;
  unsigned timeout = 40000; /* a host cut off without a FIN: unacknowledged data ends the hop within 40 s */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
}

/* Waits for what the last SSL call wanted on fd, until deadline; false when the time is up or the fd failed. */
static bool ssl_wait(SSL *ssl, int rc, int fd, long long deadline) {
  int err = SSL_get_error(ssl, rc);
  short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
  if (events == 0) return false;
  long long left = deadline - now_ms();
  if (left <= 0) return false;
  struct pollfd p = {.fd = fd, .events = events};
  int n = poll(&p, 1, (int)left);
  return n > 0 && !(p.revents & POLLNVAL);
}

static const char *ssl_why(void) {
  static char why[160];
  unsigned long e = ERR_get_error();
  if (e == 0) return "the connection ended";
  ERR_error_string_n(e, why, sizeof why);
  ERR_clear_error();
  return why;
}

/* The end, said to the daemon. */
static int piped(struct tls_pipe_end end) {
  say("E %llu %llu %s\n", end.to_plain, end.to_tls, end.ended_by);
  return 0;
}

static SSL_CTX *context(bool server) {
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  /* One read() brings as many records as a buffer holds (decrypted in place), not one record header and body each. */
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* a peer gone without close_notify ends the hop as one that said it */
  SSL_CTX_set_default_read_buffer_len(ctx, TLS_PIPE_BUF);
  if (server) SSL_CTX_set_num_tickets(ctx, 0); /* one connection per hop: nothing to resume */
  return ctx;
}

/* The certificate and key from one PEM buffer (certificate first, as the daemon sends them). */
static bool load_identity(SSL_CTX *ctx, const char *pem, size_t len) {
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  EVP_PKEY *key = cert ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  bool ok = key && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(bio);
  return ok;
}

/* One accepted connection: TLS, then the secret line. Returns the SSL when it is the agent's, with what came after
 * the secret in `early`; NULL (and "R why") otherwise. */
static SSL *claim(SSL_CTX *ctx, int fd, const struct commands *c, unsigned char *early, size_t *early_len) {
  long long deadline = now_ms() + HANDSHAKE_WITHIN_MS;
  set_nonblocking(fd);
  SSL *ssl = SSL_new(ctx);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) return NULL;
  int rc;
  while ((rc = SSL_accept(ssl)) != 1) {
    if (!ssl_wait(ssl, rc, fd, deadline)) {
      say("R no TLS handshake: %s\n", ssl_why());
      SSL_free(ssl);
      return NULL;
    }
  }
  unsigned char got[SECRET_MAX + 2 + 4096];
  size_t len = 0;
  unsigned char *nl = NULL;
  while (!nl) {
    if (len == sizeof got) break;
    rc = SSL_read(ssl, got + len, (int)(sizeof got - len));
    if (rc > 0) {
      len += (size_t)rc;
      nl = memchr(got, '\n', len);
      if (!nl && len > SECRET_MAX) break;
      continue;
    }
    if (!ssl_wait(ssl, rc, fd, deadline)) break;
  }
  size_t secret_len = nl ? (size_t)(nl - got) : 0;
  /* Compared in constant time over the expected length, so the time taken says nothing of how much matched. */
  bool match = nl && secret_len == c->secret_len && CRYPTO_memcmp(got, c->secret, c->secret_len) == 0;
  if (!match) {
    say("R %s\n", nl ? "the stream secret is wrong" : "no stream secret within the handshake's time");
    SSL_free(ssl);
    return NULL;
  }
  *early_len = len - secret_len - 1;
  memcpy(early, nl + 1, *early_len);
  return ssl;
}

/* The peer's address, parsed: what accepted connections are compared with. */
struct peer {
  int family;
  unsigned char addr[16];
};

static bool peer_parse(const char *text, struct peer *p) {
  if (inet_pton(AF_INET, text, p->addr) == 1) return p->family = AF_INET, true;
  if (inet_pton(AF_INET6, text, p->addr) == 1) return p->family = AF_INET6, true;
  return false;
}

static bool peer_is(const struct sockaddr_storage *from, const struct peer *p) {
  if (from->ss_family != p->family) return false;
  if (p->family == AF_INET) return memcmp(&((const struct sockaddr_in *)from)->sin_addr, p->addr, 4) == 0;
  return memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr, p->addr, 16) == 0;
}

static int run_listen(const char *addr, const char *peer_text, const struct commands *c) {
  SSL_CTX *ctx = context(true);
  if (!ctx || !c->pem || !load_identity(ctx, c->pem, c->pem_len)) {
    say("X the certificate and key could not be loaded: %s\n", ssl_why());
    return 4;
  }
  struct peer peer;
  if (!peer_parse(peer_text, &peer)) {
    say("X %s is not an IP address\n", peer_text);
    return 4;
  }
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(addr, "0", &hints, &ai) != 0 || !ai) {
    say("X %s is not an IP address\n", addr);
    return 4;
  }
  int lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(lfd, 8) != 0) {
    say("X cannot listen on %s: %s\n", addr, strerror(errno));
    return 4;
  }
  freeaddrinfo(ai);
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  getsockname(lfd, (struct sockaddr *)&bound, &blen);
  int port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);
  say("L %d\n", port);
  long long deadline = now_ms() + ACCEPT_WITHIN_MS;
  static unsigned char early[SECRET_MAX + 2 + 4096];
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) {
      say("X no agent dialled the display hop within %d s\n", ACCEPT_WITHIN_MS / 1000);
      return 2;
    }
    struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = FD_CTL, .events = POLLIN}};
    if (poll(p, 2, (int)left) < 0 && errno != EINTR) return 1;
    if (p[1].revents) return 1; /* the daemon gave up (EOF) */
    if (!(p[0].revents & POLLIN)) continue;
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    int fd = accept4(lfd, (struct sockaddr *)&from, &from_len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (!peer_is(&from, &peer)) {
      /* Not even a TLS handshake for others: a stalled one could hold the agent's connection past the deadline. */
      char seen[INET6_ADDRSTRLEN] = "?";
      inet_ntop(from.ss_family, from.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&from)->sin_addr : (void *)&((struct sockaddr_in6 *)&from)->sin6_addr, seen, sizeof seen);
      say("R a connection from %s, not the agent's address %s\n", seen, peer_text);
      close(fd);
      continue;
    }
    tcp_tune(fd);
    size_t early_len = 0;
    SSL *ssl = claim(ctx, fd, c, early, &early_len);
    if (!ssl) {
      close(fd);
      continue;
    }
    close(lfd); /* single use: nothing else is accepted once the agent's connection claimed the hop */
    say("A\n");
    return piped(tls_pipe(ssl, fd, FD_PLAIN, FD_CTL, early, early_len, NULL, 0));
  }
}

static int run_dial(const struct commands *c) {
  SSL_CTX *ctx = context(false);
  if (!ctx || !c->have_fingerprint) return 4;
  /* The chain is not judged by a CA: the pinned leaf fingerprint is the whole trust, as for the agent's link. */
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL *ssl = SSL_new(ctx);
  if (!ssl || SSL_set_fd(ssl, FD_TCP) != 1) return 4;
  tcp_tune(FD_TCP);
  set_nonblocking(FD_TCP);
  long long deadline = now_ms() + HANDSHAKE_WITHIN_MS;
  int rc;
  while ((rc = SSL_connect(ssl)) != 1) {
    if (!ssl_wait(ssl, rc, FD_TCP, deadline)) {
      say("X no TLS handshake with the controller: %s\n", ssl_why());
      return 2;
    }
  }
  X509 *peer = SSL_get1_peer_certificate(ssl);
  unsigned char seen[EVP_MAX_MD_SIZE];
  unsigned seen_len = 0;
  bool pinned = peer && X509_digest(peer, EVP_sha256(), seen, &seen_len) == 1 && seen_len == sizeof c->fingerprint && CRYPTO_memcmp(seen, c->fingerprint, seen_len) == 0;
  X509_free(peer);
  if (!pinned) {
    /* Nothing was sent: the secret never reaches a server that is not the controller the join token pinned. */
    say("R fingerprint: the peer's certificate is not the controller's pinned one\n");
    return 3;
  }
  char line[SECRET_MAX + 2];
  int n = snprintf(line, sizeof line, "%s\n", c->secret);
  int off = 0;
  while (off < n) {
    rc = SSL_write(ssl, line + off, n - off);
    if (rc > 0) off += rc;
    else if (!ssl_wait(ssl, rc, FD_TCP, deadline)) {
      say("X the secret could not be sent: %s\n", ssl_why());
      return 2;
    }
  }
  say("A\n");
  return piped(tls_pipe(ssl, FD_TCP, FD_PLAIN, FD_CTL, NULL, 0, c->prefix, c->prefix_len));
}

int main(int argc, char **argv) {
  if (run_as_drop() != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  bool listening = argc == 4 && strcmp(argv[1], "listen") == 0;
  bool dialling = argc == 2 && strcmp(argv[1], "dial") == 0;
  if (!listening && !dialling) {
    fprintf(stderr, "usage: display-hop listen ADDR PEER | display-hop dial (fds: see native/display-hop.c)\n");
    return 64;
  }
  struct commands c = {0};
  if (!read_commands(&c)) {
    fprintf(stderr, "display-hop: bad or missing commands on fd 0\n");
    return 64;
  }
  return listening ? run_listen(argv[2], argv[3], &c) : run_dial(&c);
}
