// Reading the daemon's commands on a helper's fd 0 (blocking, before the helper's poll loop takes over): exact byte
// counts, and lines ended by '\n'.
#ifndef ARDESIA_DAEMON_COMMANDS_H
#define ARDESIA_DAEMON_COMMANDS_H
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

/* All `len` bytes, or false at EOF or an error. */
static inline bool read_exact(int fd, void *buf, size_t len) {
  for (size_t got = 0; got < len;) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    got += (size_t)n;
  }
  return true;
}

/* One line without its '\n', NUL-terminated; false at EOF, an error, or a line longer than `cap` - 1. */
static inline bool read_line(int fd, char *line, size_t cap) {
  for (size_t i = 0; i + 1 < cap; i++) {
    if (!read_exact(fd, line + i, 1)) return false;
    if (line[i] == '\n') return line[i] = 0, true;
  }
  return false;
}
#endif
