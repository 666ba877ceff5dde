// RFC 6455 frame headers, pure: a server's unmasked header written, a client's masked header read and checked
// (RSV bits, the mask, 63-bit lengths, control frames' limits, data frames' continuation order).
#ifndef ARDESIA_WS_FRAME_H
#define ARDESIA_WS_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/** Writes a final, unmasked header for `len` payload bytes into h (room for 10 bytes); its size. */
static inline size_t ws_header_encode(unsigned char *h, int opcode, uint64_t len) {
  h[0] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    h[1] = (unsigned char)len;
    return 2;
  }
  if (len < 65536) {
    h[1] = 126;
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)len;
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
  return 10;
}

struct ws_header {
  int opcode;
  bool fin;
  uint64_t len;
  unsigned char mask[4];
  size_t size; /* the header's own bytes */
};

enum { WS_BAD = -1, WS_MORE = 0, WS_OK = 1 };

/**
 * Reads a client's frame header from p (avail bytes); `in_message`: a fragmented data message is open. WS_MORE when
 * more bytes are needed, WS_BAD on a protocol error (refused from the first two bytes when they say so), WS_OK with h.
 */
static inline int ws_header_parse(const unsigned char *p, size_t avail, bool in_message, struct ws_header *h) {
  if (avail < 2) return WS_MORE;
  if ((p[0] & 0x70) || !(p[1] & 0x80)) return WS_BAD; /* RSV bits, or an unmasked client frame */
  size_t need = 2 + ((p[1] & 0x7f) == 126 ? 2 : (p[1] & 0x7f) == 127 ? 8 : 0) + 4;
  if (avail < need) return WS_MORE;
  int opcode = p[0] & 0x0f;
  bool fin = p[0] & 0x80;
  uint64_t len = p[1] & 0x7f;
  if (len == 126) len = ((uint64_t)p[2] << 8) | p[3];
  else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
    if (len >> 63) return WS_BAD;
  }
  if (opcode >= 8 ? (!fin || len > 125 || opcode > OP_PONG) : (opcode > OP_BINARY || (opcode == OP_CONT) != in_message)) return WS_BAD;
  h->opcode = opcode;
  h->fin = fin;
  h->len = len;
  memcpy(h->mask, p + need - 4, 4);
  h->size = need;
  return WS_OK;
}

#endif
