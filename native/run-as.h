// Dropping root: ARDESIA_RUN_AS="uid:gid" (the daemon's unprivileged account) is applied once the helper
// holds its sockets; without it the helper keeps the identity it was started with (a daemon not root).
#ifndef ARDESIA_RUN_AS_H
#define ARDESIA_RUN_AS_H
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* 0 when dropped (or nothing asked), -1 with a message on stderr when the switch failed: the caller exits. */
static int run_as_drop(void) {
  const char *spec = getenv("ARDESIA_RUN_AS");
  if (spec == NULL || *spec == '\0') return 0;
  char *end;
  errno = 0;
  unsigned long uid = strtoul(spec, &end, 10);
  if (errno || end == spec || *end != ':') goto bad;
  const char *g = end + 1;
  unsigned long gid = strtoul(g, &end, 10);
  if (errno || end == g || *end != '\0' || uid == 0 || gid == 0) goto bad;
  // Groups first (root's supplementary groups go), then gid, then uid: after setuid nothing can be changed back.
  if (setgroups(0, NULL) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0 || setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) {
    fprintf(stderr, "cannot switch to %s: %s\n", spec, strerror(errno));
    return -1;
  }
  if (setuid(0) == 0) {
    fprintf(stderr, "still able to become root after dropping to %s\n", spec);
    return -1;
  }
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  // Not dumpable: the QEMUs running as the same account cannot ptrace this helper or read its memory.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return 0;
bad:
  fprintf(stderr, "ARDESIA_RUN_AS must be UID:GID, both non-zero, not \"%s\"\n", spec);
  return -1;
}
#endif
