// display-relay's state (one pipe: browser WebSocket <-> desktop VNC socket) and its fixed sizes; included by
// display-relay.c and relay-daemon.h only.
#ifndef ARDESIA_DISPLAY_RELAY_H
#define ARDESIA_DISPLAY_RELAY_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#define FD_CTL 0
#define FD_STATUS 1
#define FD_VNC 3
#define FD_TCP 4
#define PIPE_CAP (256 * 1024)        /* desktop bytes queued towards the browser, at most */
#define IN_CAP (64 * 1024)           /* browser bytes read at once */
#define CLOSE_WAIT_MS 5000           /* how long a sent close frame waits for the browser's reply */
#define STATUS_EVERY_MS 100
#define CTL_MAX 256
#define PREFIX_MAX (1024 * 1024)
#define WATCH_BYTES (64 * 1024)      /* the first desktop bytes copied to the daemon (login timeline: first frame) */

struct relay {
  int pr, pw;                       /* the splice pipe: desktop bytes waiting for the browser */
  size_t pipe_bytes, splice_left;   /* bytes in the pipe; of them, the current frame's unsent payload */
  unsigned char out[256];           /* a frame header or a control frame being sent */
  size_t out_len, out_off;
  bool tcp_blocked;
  unsigned char pong[125];
  size_t pong_len;
  bool pong_due;
  unsigned char close_frame[125];
  size_t close_len;
  bool close_due, close_flush, close_built, close_sent, close_received, stop_desktop;
  long long close_deadline;
  bool desktop_eof, browser_eof, done;
  /* browser → desktop */
  unsigned char in[IN_CAP];
  size_t in_len, in_off;
  unsigned char *dsk;               /* unmasked payload inside `in` not yet written to the desktop */
  size_t dsk_len;
  /* the frame being parsed */
  bool in_payload, in_message;
  int opcode;
  bool fin;
  uint64_t payload_left;
  unsigned char mask[4];
  unsigned mask_pos;
  unsigned char ctrl[125];
  size_t ctrl_len;
  /* accounting */
  unsigned long long to_browser, to_desktop, peak;
  bool status_dirty;
  long long last_status;
  const char *ended_by;
  char ctl[CTL_MAX];
  size_t ctl_len;
  unsigned char copy[IN_CAP];       /* browser bytes not yet copied to the daemon */
  size_t copy_len;
  unsigned long long watched;       /* desktop bytes copied to the daemon so far (the D prefix excluded) */
  unsigned char peek[4096];
};

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#endif
