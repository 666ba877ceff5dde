// qmp-add-fd: hands open files to a running QEMU over a QMP monitor socket (SCM_RIGHTS, which Node cannot
// send), for files opened after the start (a user's home hot-plugged at login). Node's QMP client holds the
// main monitor; this speaks to the second one (qmp-fd.sock) and exits.
//
// argv: SOCKET COUNT — fds 3 .. 3+COUNT-1 are the files; they all join one new fdset (QMP add-fd).
// stdout: the fdset id on success. stderr + exit 1: what failed (QEMU's error text when it refused).
// Runs as ARDESIA_RUN_AS (native/run-as.h) from the start: it reads QEMU's words, and needs no root.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "run-as.h"

#define LINE_MAX_BYTES 65536
#define TIMEOUT_MS 10000
#define MAX_FILES 8

static char buf[LINE_MAX_BYTES];
static size_t buf_len;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "qmp-add-fd: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

// One line from QEMU into `line` (without the newline); events are skipped by the caller.
static void read_line(int s, char *line) {
  for (;;) {
    char *nl = memchr(buf, '\n', buf_len);
    if (nl) {
      size_t n = (size_t)(nl - buf);
      memcpy(line, buf, n);
      line[n] = '\0';
      memmove(buf, nl + 1, buf_len - n - 1);
      buf_len -= n + 1;
      return;
    }
    if (buf_len == sizeof buf) die("a line from QEMU is too long", NULL);
    struct pollfd p = {.fd = s, .events = POLLIN};
    int r = poll(&p, 1, TIMEOUT_MS);
    if (r == 0) die("QEMU did not answer in time", NULL);
    if (r < 0) die("poll", strerror(errno));
    ssize_t got = read(s, buf + buf_len, sizeof buf - buf_len);
    if (got == 0) die("QEMU closed the monitor", NULL);
    if (got < 0) die("read", strerror(errno));
    buf_len += (size_t)got;
  }
}

// The reply to the command just sent: the next line that is not an event.
static void read_reply(int s, char *line) {
  do read_line(s, line);
  while (strncmp(line, "{\"timestamp\"", 13) == 0); // an event, not the reply
  if (strncmp(line, "{\"return\"", 9) != 0) die("QEMU refused", line);
}

static void send_with_fd(int s, const char *text, int fd) {
  struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  if (sendmsg(s, &msg, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) die("send", strerror(errno));
}

int main(int argc, char **argv) {
  if (run_as_drop() != 0) return 1;
  if (argc != 3) die("usage: qmp-add-fd SOCKET COUNT (files on fds 3..)", NULL);
  int count = atoi(argv[2]);
  if (count < 1 || count > MAX_FILES) die("COUNT must be 1 to 8", NULL);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) die("socket path too long", argv[1]);
  strcpy(addr.sun_path, argv[1]);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect", strerror(errno));
  static char line[LINE_MAX_BYTES];
  read_line(s, line); // the greeting
  if (strstr(line, "\"QMP\"") == NULL) die("not a QMP greeting", line);
  send_with_fd(s, "{\"execute\":\"qmp_capabilities\"}\n", -1);
  read_reply(s, line);
  long fdset = -1;
  for (int i = 0; i < count; i++) {
    char cmd[128];
    if (fdset < 0) snprintf(cmd, sizeof cmd, "{\"execute\":\"add-fd\"}\n");
    else snprintf(cmd, sizeof cmd, "{\"execute\":\"add-fd\",\"arguments\":{\"fdset-id\":%ld}}\n", fdset);
    send_with_fd(s, cmd, 3 + i);
    read_reply(s, line);
    const char *id = strstr(line, "\"fdset-id\"");
    if (id == NULL) die("no fdset-id in QEMU's reply", line);
    id += strlen("\"fdset-id\"");
    while (*id == ' ' || *id == ':') id++;
    char *end;
    long got = strtol(id, &end, 10);
    if (end == id) die("no fdset-id in QEMU's reply", line);
    if (got < 0 || (fdset >= 0 && got != fdset)) die("unexpected fdset-id", line);
    fdset = got;
  }
  printf("%ld\n", fdset);
  return 0;
}
