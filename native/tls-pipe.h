// A TLS connection (OpenSSL, handshake done) piped to a plain socket, both ways, in one poll loop without threads: the
// display hop's two ends (native/display-hop.c). Records go out through a BIO of our own so that one write() carries
// a buffer's worth of them; SSL reads TCP itself with read-ahead. EOF on `ctl` (the daemon gone) drops both sides.
#ifndef ARDESIA_TLS_PIPE_H
#define ARDESIA_TLS_PIPE_H
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TLS_PIPE_BUF (256 * 1024)                   /* plaintext read or written at once, and SSL's read-ahead */
#define TLS_PIPE_OUT (TLS_PIPE_BUF + TLS_PIPE_BUF / 8) /* a buffer's worth of records with their headers and tags */
#define TLS_PIPE_FLUSH_MS 2000                      /* what one side still had for the other once its peer ended */

static inline long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Records on their way to TCP: SSL_write's output lands here (a BIO of our own), and one write() sends every record
 * a buffer's worth of plaintext made, rather than one syscall per 16 KiB record. */
struct outbuf {
  unsigned char *data;
  size_t len, off, cap;
};

static int outbuf_write(BIO *b, const char *in, int n) {
  struct outbuf *o = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (o->off == o->len) o->off = o->len = 0;
  size_t room = o->cap - o->len;
  if (room == 0 || n <= 0) {
    BIO_set_retry_write(b);
    return -1;
  }
  size_t take = (size_t)n < room ? (size_t)n : room;
  memcpy(o->data + o->len, in, take);
  o->len += take;
  return (int)take;
}

static long outbuf_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  struct outbuf *o = BIO_get_data(b);
  if (cmd == BIO_CTRL_FLUSH) return 1;
  if (cmd == BIO_CTRL_WPENDING || cmd == BIO_CTRL_PENDING) return (long)(o->len - o->off);
  return 0;
}

static BIO *outbuf_bio(struct outbuf *o) {
  static BIO_METHOD *method;
  if (!method) {
    method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ardesia-outbuf");
    if (!method || !BIO_meth_set_write(method, outbuf_write) || !BIO_meth_set_ctrl(method, outbuf_ctrl)) return NULL;
  }
  BIO *b = BIO_new(method);
  if (!b) return NULL;
  BIO_set_data(b, o);
  BIO_set_init(b, 1);
  return b;
}

/* What went each way, and which side ended it: plain, tls or error. */
struct tls_pipe_end {
  unsigned long long to_plain, to_tls;
  const char *ended_by;
};

/* The pipe once the TLS side is up, until either side ends (or `ctl` reaches EOF). SSL reads TCP itself with read-ahead into a buffer-sized record buffer (one read()
 * brings many records, decrypted in place); its records out go through `outbuf`. Each fd is tried only while it is
 * ready (poll says so again once it was not). `early` is plain-side-bound data the handshake step already read past
 * the secret, `prefix` TLS-bound data the daemon had read from the plain side. */
struct side {
  bool readable, writable, eof;
};

static struct tls_pipe_end tls_pipe(SSL *ssl, int tcp, int plain_fd, int ctl, const unsigned char *early, size_t early_len, const unsigned char *prefix, size_t prefix_len) {
  unsigned char *to_plain = malloc(TLS_PIPE_BUF), *to_tls = malloc(TLS_PIPE_BUF);
  struct outbuf out = {.data = malloc(TLS_PIPE_OUT), .cap = TLS_PIPE_OUT};
  BIO *wbio = out.data ? outbuf_bio(&out) : NULL;
  if (!to_plain || !to_tls || !wbio) return (struct tls_pipe_end){0, 0, "error"};
  SSL_set0_wbio(ssl, wbio); /* the socket BIO stays SSL's rbio */
  size_t tp_len = 0, tp_off = 0, tt_len = 0, tt_off = 0;
  if (early_len > 0) memcpy(to_plain, early, tp_len = early_len);
  if (prefix_len > 0) memcpy(to_tls, prefix, tt_len = prefix_len);
  unsigned long long n_plain = 0, n_tls = 0;
  struct side net = {.readable = true, .writable = true}, plain = {.readable = true, .writable = true};
  bool tls_eof = false;
  const char *ended_by = NULL;
  long long flush_deadline = 0;
  set_nonblocking(tcp);
  set_nonblocking(plain_fd);
  set_nonblocking(ctl);
  int plain_buffer = 4 * TLS_PIPE_BUF; /* a whole buffer (and then some) written at once rather than in pieces between polls */
  setsockopt(plain_fd, SOL_SOCKET, SO_SNDBUF, &plain_buffer, sizeof plain_buffer);
  for (;;) {
    bool progress = false;
    /* records → plaintext for the plain side, as many as fit */
    if (tp_off == tp_len && !tls_eof && (net.readable || SSL_has_pending(ssl))) {
      tp_off = tp_len = 0;
      while (tp_len < TLS_PIPE_BUF) {
        int n = SSL_read(ssl, to_plain + tp_len, (int)(TLS_PIPE_BUF - tp_len));
        if (n > 0) {
          tp_len += (size_t)n;
          continue;
        }
        int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ) net.readable = false;
        else if (err == SSL_ERROR_WANT_WRITE) { /* its records buffer is full: TCP first */
        } else {
          tls_eof = true; /* close_notify, the TCP side's end, or a broken record */
          if (err != SSL_ERROR_ZERO_RETURN && !ended_by) ended_by = err == SSL_ERROR_SYSCALL ? "tls" : "error";
        }
        break;
      }
      if (tp_len > 0 || tls_eof) progress = true;
    }
    if (tp_off < tp_len && plain.writable && !plain.eof) {
      ssize_t n = write(plain_fd, to_plain + tp_off, tp_len - tp_off);
      if (n > 0) tp_off += (size_t)n, n_plain += (unsigned long long)n, progress = true;
      else if (n < 0 && (errno == EAGAIN || errno == EINTR)) plain.writable = false;
      else tp_off = tp_len, plain.eof = true, progress = true;
    }
    /* the plain side → records */
    if (tt_off == tt_len && !plain.eof && plain.readable) {
      tt_off = tt_len = 0;
      ssize_t n = read(plain_fd, to_tls, TLS_PIPE_BUF);
      if (n > 0) tt_len = (size_t)n, progress = true;
      else if (n < 0 && (errno == EAGAIN || errno == EINTR)) plain.readable = false;
      else plain.eof = true, progress = true;
    }
    while (tt_off < tt_len && !tls_eof) {
      int n = SSL_write(ssl, to_tls + tt_off, (int)(tt_len - tt_off));
      if (n > 0) {
        tt_off += (size_t)n;
        n_tls += (unsigned long long)n;
        progress = true;
        continue;
      }
      if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_WRITE) {
        tls_eof = true;
        if (!ended_by) ended_by = "error";
      }
      break; /* the records buffer is full: TCP first */
    }
    /* records → TCP */
    if (out.off < out.len && net.writable) {
      ssize_t n = write(tcp, out.data + out.off, out.len - out.off);
      if (n > 0) out.off += (size_t)n, progress = true;
      else if (n < 0 && (errno == EAGAIN || errno == EINTR)) net.writable = false;
      else out.off = out.len, tls_eof = true, progress = true;
    }
    if (plain.eof && !ended_by) ended_by = "plain";
    if (tls_eof && !ended_by) ended_by = "tls";
    /* One side ended: what the other still has queued for it goes out (bounded), then both are dropped. */
    if (tls_eof || plain.eof) {
      if (!flush_deadline) flush_deadline = now_ms() + TLS_PIPE_FLUSH_MS;
      bool plain_done = plain.eof || tp_off == tp_len;
      bool tls_done = out.off == out.len && (tls_eof || tt_off == tt_len);
      if ((plain_done && tls_done) || now_ms() > flush_deadline) break;
    }
    if (progress) continue;
    bool want_net_in = !tls_eof && tp_off == tp_len;
    bool want_net_out = out.off < out.len;
    bool want_plain_in = !plain.eof && tt_off == tt_len;
    bool want_plain_out = !plain.eof && tp_off < tp_len;
    struct pollfd p[3] = {
      {.fd = tcp, .events = (short)((want_net_in ? POLLIN : 0) | (want_net_out ? POLLOUT : 0))},
      {.fd = plain_fd, .events = (short)((want_plain_in ? POLLIN : 0) | (want_plain_out ? POLLOUT : 0))},
      {.fd = ctl, .events = POLLIN},
    };
    int n = poll(p, 3, flush_deadline ? 100 : 1000);
    if (n < 0 && errno != EINTR) { ended_by = "error"; break; }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) net.readable = true;
    if (p[0].revents & (POLLOUT | POLLERR)) net.writable = true;
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) plain.readable = true;
    if (p[1].revents & (POLLOUT | POLLERR)) plain.writable = true;
    if (p[2].revents) {
      char c;
      ssize_t r = read(ctl, &c, 1);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { ended_by = "error"; break; } /* the daemon dropped us */
    }
  }
  if (!tls_eof && SSL_shutdown(ssl) >= 0 && out.off < out.len) {
    ssize_t w = write(tcp, out.data + out.off, out.len - out.off); /* close_notify, best effort: the peer sees the end at once */
    (void)w;
  }
  shutdown(plain_fd, SHUT_RDWR);
  shutdown(tcp, SHUT_RDWR);
  free(to_plain);
  free(to_tls);
  return (struct tls_pipe_end){n_plain, n_tls, ended_by ? ended_by : "tls"};
}
#endif
