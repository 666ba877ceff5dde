// display-relay: one display pipe (browser WebSocket ↔ desktop VNC socket) after the daemon did the
// HTTP upgrade and the ticket check. The daemon's Node event loop costs ~2.5 ms of CPU per MiB on this
// path; here the desktop's bytes go VNC socket → pipe → TCP with splice(2) (no copy through user
// space), each spliced run behind a 2–10 byte unmasked frame header. Browser frames are unmasked
// with read/xor/write. RFC 6455: ping → pong, close handshake, fragmented messages, control frames
// between fragments; a protocol error drops both sides at once (as the Node pipe does).
//
// Runs as ARDESIA_RUN_AS (native/run-as.h) from its first instruction on: it only needs the fds it is given.
// fds: 0 commands from the daemon, 1 status lines to the daemon, 2 errors, 3 VNC socket, 4 TCP socket.
// Commands: "D n\n"+n bytes (desktop bytes the daemon had already read), "B n\n"+n bytes (browser
// bytes likewise), "S\n" start; later "C code reason\n" close the WebSocket. EOF on fd 0 = drop all.
// Status: "T toBrowser toDesktop peakQueue\n" while moving (≤ 10/s), "E … endedBy\n" at the end, and
// "M n\n"+n bytes: a copy of what the browser sent (input is small; the daemon meters it for idleness),
// batched with the status lines so that a keystroke does not wake the daemon; "V n\n"+n bytes: a copy of the
// desktop's first WATCH_BYTES (the daemon finds the first frame in them; status lines are not batched until then).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "daemon-commands.h"
#include "display-relay.h"
#include "relay-daemon.h"
#include "run-as.h"
#include "ws-frame.h"

static void finish(struct relay *r, const char *ended_by) {
  if (!r->ended_by) r->ended_by = ended_by;
  r->done = true;
}

/** Queues a close frame; `flush` sends the desktop bytes already read first (the tail reaches the browser). */
static void queue_close(struct relay *r, int code, const char *reason, size_t reason_len, bool flush) {
  if (r->close_due || r->close_sent) return;
  if (reason_len > 123) reason_len = 123;
  r->close_len = 0;
  if (code > 0) {
    r->close_frame[0] = (unsigned char)(code >> 8);
    r->close_frame[1] = (unsigned char)code;
    memcpy(r->close_frame + 2, reason, reason_len);
    r->close_len = 2 + reason_len;
  }
  r->close_due = true;
  r->close_flush = flush;
  r->stop_desktop = true;
}

static void frame_header(struct relay *r, int opcode, uint64_t len) {
  r->out_len = ws_header_encode(r->out, opcode, len);
  r->out_off = 0;
}

static void control_frame(struct relay *r, int opcode, const unsigned char *payload, size_t len) {
  frame_header(r, opcode, len);
  memcpy(r->out + r->out_len, payload, len);
  r->out_len += len;
}

/** Moves everything it can towards the browser: headers, spliced payloads, pong and close frames. */
static void pump_to_browser(struct relay *r) {
  r->tcp_blocked = false;
  while (!r->done) {
    if (r->out_off < r->out_len) {
      ssize_t n = send(FD_TCP, r->out + r->out_off, r->out_len - r->out_off, MSG_NOSIGNAL | (r->splice_left ? MSG_MORE : 0));
      if (n < 0) {
        if (errno == EAGAIN) r->tcp_blocked = true;
        else if (errno != EINTR) finish(r, "browser");
        return;
      }
      r->out_off += (size_t)n;
      continue;
    }
    if (r->splice_left > 0) {
      ssize_t n = splice(r->pr, NULL, FD_TCP, NULL, r->splice_left, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) r->tcp_blocked = true;
        else if (n == 0 || errno != EINTR) finish(r, "browser");
        return;
      }
      r->splice_left -= (size_t)n;
      r->pipe_bytes -= (size_t)n;
      r->to_browser += (unsigned long long)n;
      r->status_dirty = true;
      continue;
    }
    /* Between frames: control frames may go here, never inside a data frame. */
    if (r->close_built) {
      if (!r->close_sent) r->close_deadline = now_ms() + CLOSE_WAIT_MS;
      r->close_sent = true; /* wholly in the kernel now */
      return;
    }
    if (r->pong_due) {
      r->pong_due = false;
      control_frame(r, OP_PONG, r->pong, r->pong_len);
      continue;
    }
    if (r->close_due && (!r->close_flush || r->pipe_bytes == 0)) {
      control_frame(r, OP_CLOSE, r->close_frame, r->close_len);
      r->close_built = true;
      continue;
    }
    if (r->pipe_bytes > 0 && (!r->close_due || r->close_flush)) {
      frame_header(r, OP_BINARY, r->pipe_bytes);
      r->splice_left = r->pipe_bytes;
      continue;
    }
    return;
  }
}

/** The desktop's socket failed or ended: the browser gets what was read, then a close frame. */
static void desktop_gone(struct relay *r, bool failed) {
  static const char bye[] = "the desktop closed its display", broke[] = "the display connection failed";
  r->desktop_eof = true;
  if (!r->ended_by) r->ended_by = failed ? "error" : "desktop";
  if (failed) queue_close(r, 1011, broke, sizeof broke - 1, true);
  else queue_close(r, 1000, bye, sizeof bye - 1, true);
}

static void read_desktop(struct relay *r) {
  size_t room = PIPE_CAP - r->pipe_bytes;
  bool watching = r->watched < WATCH_BYTES;
  if (watching) { /* peeked first, so that exactly the bytes spliced are copied to the daemon */
    size_t cap = sizeof r->peek < room ? sizeof r->peek : room;
    if (cap > WATCH_BYTES - r->watched) cap = (size_t)(WATCH_BYTES - r->watched);
    ssize_t seen = recv(FD_VNC, r->peek, cap, MSG_PEEK | MSG_DONTWAIT);
    if (seen < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (seen <= 0) return desktop_gone(r, seen < 0);
    room = (size_t)seen;
  }
  ssize_t n = splice(FD_VNC, NULL, r->pw, NULL, room, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  if (n > 0) {
    if (watching) {
      copy_out(r, 'V', r->peek, (size_t)n);
      r->watched += (unsigned long long)n;
    }
    r->pipe_bytes += (size_t)n;
    if (r->pipe_bytes > r->peak) r->peak = r->pipe_bytes;
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  desktop_gone(r, n < 0);
}

static void write_desktop(struct relay *r) {
  while (r->dsk_len > 0) {
    ssize_t n = send(FD_VNC, r->dsk, r->dsk_len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { /* the desktop went away: nothing more to deliver */
        r->dsk_len = 0;
        if (!r->desktop_eof) desktop_gone(r, true);
      }
      return;
    }
    r->dsk += n;
    r->dsk_len -= (size_t)n;
    r->to_desktop += (unsigned long long)n;
    r->status_dirty = true;
  }
}

static void on_control(struct relay *r) {
  if (r->opcode == OP_PING) {
    memcpy(r->pong, r->ctrl, r->ctrl_len);
    r->pong_len = r->ctrl_len;
    r->pong_due = true; /* only the latest ping is answered (RFC 6455 5.5.3) */
  } else if (r->opcode == OP_CLOSE) {
    r->close_received = true;
    if (r->ctrl_len == 1) return finish(r, "error");
    if (!r->ended_by) r->ended_by = "browser";
    /* Echo the browser's code; desktop bytes still in the pipe are dropped (it asked to leave). */
    if (r->ctrl_len >= 2) queue_close(r, (r->ctrl[0] << 8) | r->ctrl[1], "", 0, false);
    else queue_close(r, 0, "", 0, false);
  }
}

/** Parses the frame header at in[in_off]; false when more bytes are needed. */
static bool parse_header(struct relay *r) {
  struct ws_header h;
  int got = ws_header_parse(r->in + r->in_off, r->in_len - r->in_off, r->in_message, &h);
  if (got == WS_BAD) return finish(r, "error"), false;
  if (got == WS_MORE) return false;
  if (h.opcode < 8) {
    if (h.opcode == OP_TEXT) {
      static const char why[] = "binary frames only (subprotocol \"binary\")";
      queue_close(r, 1003, why, sizeof why - 1, false);
    }
    r->in_message = !h.fin;
  }
  memcpy(r->mask, h.mask, 4);
  r->mask_pos = 0;
  r->opcode = h.opcode;
  r->fin = h.fin;
  r->payload_left = h.len;
  r->ctrl_len = 0;
  r->in_payload = true;
  r->in_off += h.size;
  return true;
}

/** Consumes browser bytes until the desktop must take some or more bytes are needed. */
static void parse_browser(struct relay *r) {
  while (!r->done && r->dsk_len == 0 && !r->close_received) {
    if (!r->in_payload) {
      if (!parse_header(r)) break;
    }
    size_t avail = r->in_len - r->in_off;
    size_t take = r->payload_left < avail ? (size_t)r->payload_left : avail;
    unsigned char *p = r->in + r->in_off;
    for (size_t i = 0; i < take; i++) p[i] ^= r->mask[(r->mask_pos + i) & 3];
    r->mask_pos = (unsigned)((r->mask_pos + take) & 3);
    r->in_off += take;
    r->payload_left -= take;
    if (r->opcode >= 8) {
      memcpy(r->ctrl + r->ctrl_len, p, take);
      r->ctrl_len += take;
    } else if (take > 0 && !r->close_due && !r->close_sent) {
      copy_to_daemon(r, p, take);
      r->dsk = p;
      r->dsk_len = take;
      write_desktop(r);
    }
    if (r->payload_left == 0) {
      r->in_payload = false;
      if (r->opcode >= 8) on_control(r);
    } else if (take == 0) {
      break;
    }
  }
  if (r->dsk_len == 0 && r->in_off == r->in_len) r->in_off = r->in_len = 0;
}

static void read_browser(struct relay *r) {
  if (r->in_off > 0) { /* keep a partial header at the front */
    memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
    r->in_len -= r->in_off;
    r->in_off = 0;
  }
  ssize_t n = recv(FD_TCP, r->in + r->in_len, IN_CAP - r->in_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    r->browser_eof = true;
    return finish(r, "browser");
  }
  r->in_len += (size_t)n;
  parse_browser(r);
}

static void read_commands(struct relay *r) {
  ssize_t n = read(FD_CTL, r->ctl + r->ctl_len, CTL_MAX - 1 - r->ctl_len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return finish(r, "browser"); /* the daemon dropped the pipe (terminate, or it exited) */
  r->ctl_len += (size_t)n;
  char *nl;
  while ((nl = memchr(r->ctl, '\n', r->ctl_len))) {
    *nl = 0;
    if (r->ctl[0] == 'C') {
      char *reason = NULL;
      int code = (int)strtol(r->ctl + 1, &reason, 10);
      if (*reason == ' ') reason++;
      queue_close(r, code, reason, strlen(reason), false);
    }
    size_t used = (size_t)(nl - r->ctl) + 1;
    memmove(r->ctl, nl + 1, r->ctl_len - used);
    r->ctl_len -= used;
  }
  if (r->ctl_len == CTL_MAX - 1) r->ctl_len = 0; /* a line too long: not a command of ours */
}

static void run(struct relay *r) {
  while (!r->done) {
    if (r->dsk_len > 0) write_desktop(r);
    if (r->dsk_len == 0 && r->in_off < r->in_len) parse_browser(r);
    pump_to_browser(r);
    if (r->close_sent && r->close_received) finish(r, "browser");
    if (r->desktop_eof && r->close_received) finish(r, "desktop");
    if (r->done) break;
    long long now = now_ms();
    if (r->close_sent && now >= r->close_deadline) break; /* the browser never answered our close */
    /* Unbatched while the first frame may be going out: the daemon times it by these lines. */
    if (r->status_dirty && (now - r->last_status >= STATUS_EVERY_MS || r->to_browser < WATCH_BYTES)) status(r, false);
    int timeout = -1;
    if (r->status_dirty) timeout = STATUS_EVERY_MS;
    if (r->close_sent) {
      long long left = r->close_deadline - now;
      if (timeout < 0 || left < timeout) timeout = (int)(left > 0 ? left : 0);
    }
    bool want_desktop = !r->desktop_eof && !r->stop_desktop && r->pipe_bytes < PIPE_CAP;
    bool want_browser = r->dsk_len == 0 && r->in_len - r->in_off < IN_CAP;
    short vnc_events = (short)((want_desktop ? POLLIN : 0) | (r->dsk_len > 0 ? POLLOUT : 0));
    struct pollfd p[3] = {
      {FD_CTL, POLLIN, 0},
      {vnc_events ? FD_VNC : -1, vnc_events, 0}, /* -1: a hung-up socket we do not read would wake poll forever */
      {FD_TCP, (short)((want_browser ? POLLIN : 0) | (r->tcp_blocked ? POLLOUT : 0)), 0},
    };
    if (poll(p, 3, timeout) < 0) {
      if (errno == EINTR) continue;
      finish(r, "error");
      break;
    }
    if (p[0].revents) read_commands(r);
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR) && want_desktop) read_desktop(r);
    if (r->done) break;
    if (want_browser && p[2].revents & (POLLIN | POLLHUP | POLLERR)) read_browser(r);
    else if (p[2].revents & (POLLHUP | POLLERR)) finish(r, "browser");
  }
  if (!r->ended_by) r->ended_by = "browser";
  shutdown(FD_TCP, SHUT_RDWR);
  shutdown(FD_VNC, SHUT_RDWR);
  status(r, true);
}

int main(void) {
  static struct relay r;
  int pipefd[2];
  // Both sockets came with exec (fds 3, 4): nothing more needs root.
  if (run_as_drop() != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0) return perror("display-relay: pipe"), 1;
  r.pr = pipefd[0];
  r.pw = pipefd[1];
  if (fcntl(r.pw, F_SETPIPE_SZ, PIPE_CAP) < PIPE_CAP) return fprintf(stderr, "display-relay: cannot size the pipe\n"), 1;
  for (int fd = FD_VNC; fd <= FD_TCP; fd++) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (!read_prefixes(&r)) return fprintf(stderr, "display-relay: bad start from the daemon\n"), 1;
  fcntl(FD_CTL, F_SETFL, fcntl(FD_CTL, F_GETFL) | O_NONBLOCK);
  fcntl(FD_STATUS, F_SETFL, fcntl(FD_STATUS, F_GETFL) | O_NONBLOCK);
  r.status_dirty = true;
  run(&r);
  return 0;
}
