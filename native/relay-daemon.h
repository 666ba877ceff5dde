// display-relay's channel to the daemon: status lines and copies out on fd 1 ("T", "E", "M", "V"), and the bytes
// either side sent before the hand-over in on fd 0 ("D", "B", then "S"). Included by display-relay.c only.
#ifndef ARDESIA_RELAY_DAEMON_H
#define ARDESIA_RELAY_DAEMON_H
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon-commands.h"
#include "display-relay.h"

static void flush_copy(struct relay *r);

static void status(struct relay *r, bool final) {
  char line[160];
  flush_copy(r);
  int n = final ? snprintf(line, sizeof line, "E %llu %llu %llu %s\n", r->to_browser, r->to_desktop, r->peak, r->ended_by)
                : snprintf(line, sizeof line, "T %llu %llu %llu\n", r->to_browser, r->to_desktop, r->peak);
  if (write(FD_STATUS, line, (size_t)n) < 0 && errno != EAGAIN) r->done = true; /* the daemon is gone */
  r->status_dirty = false;
  r->last_status = now_ms();
}

/** Writes "KIND len\n" + bytes to the daemon, blocking: a copy must be whole and in order. */
static void copy_out(struct relay *r, char kind, const unsigned char *bytes, size_t len) {
  char head[32];
  int n = snprintf(head, sizeof head, "%c %zu\n", kind, len);
  struct { const void *p; size_t len; } parts[2] = {{head, (size_t)n}, {bytes, len}};
  for (int i = 0; i < 2; i++) {
    for (size_t off = 0; off < parts[i].len;) {
      ssize_t w = write(FD_STATUS, (const char *)parts[i].p + off, parts[i].len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        struct pollfd p = {FD_STATUS, POLLOUT, 0};
        poll(&p, 1, -1);
        continue;
      }
      if (w <= 0) return (void)(r->done = true); /* the daemon is gone */
      off += (size_t)w;
    }
  }
}

/** Writes the batched browser bytes to the daemon. */
static void flush_copy(struct relay *r) {
  size_t len = r->copy_len;
  r->copy_len = 0;
  if (len > 0) copy_out(r, 'M', r->copy, len);
}

static void copy_to_daemon(struct relay *r, const unsigned char *bytes, size_t len) {
  if (r->copy_len + len > sizeof r->copy) flush_copy(r);
  if (len > sizeof r->copy) {
    memcpy(r->copy, bytes, sizeof r->copy);
    r->copy_len = sizeof r->copy;
    flush_copy(r);
    return copy_to_daemon(r, bytes + sizeof r->copy, len - sizeof r->copy);
  }
  memcpy(r->copy + r->copy_len, bytes, len);
  r->copy_len += len;
  r->status_dirty = true; /* sent with the next status line, within STATUS_EVERY_MS */
}

/** The start: bytes the daemon had read from either side before handing the sockets over, then "S". */
static bool read_prefixes(struct relay *r) {
  char line[64];
  static unsigned char buf[PREFIX_MAX];
  for (;;) {
    if (!read_line(FD_CTL, line, sizeof line)) return false;
    if (strcmp(line, "S") == 0) return true;
    unsigned long n = strtoul(line + 2, NULL, 10);
    if (n > PREFIX_MAX || !read_exact(FD_CTL, buf, n)) return false;
    if (line[0] == 'D') {
      if (r->pipe_bytes + n > PIPE_CAP || write(r->pw, buf, n) != (ssize_t)n) return false;
      r->pipe_bytes += n;
      if (r->pipe_bytes > r->peak) r->peak = r->pipe_bytes;
    } else if (line[0] == 'B') {
      if (r->in_len + n > IN_CAP) return false;
      memcpy(r->in + r->in_len, buf, n);
      r->in_len += n;
    } else {
      return false;
    }
  }
}

#endif
