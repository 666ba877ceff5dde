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

/*
 * Becomes uid:gid for good: groups first (root's supplementary groups go), then gid, then uid, after which
 * nothing can be changed back; no new privileges by exec, and not dumpable (the QEMUs running as the same
 * account cannot ptrace this helper or read its memory). The kernel clears the parent-death signal on a
 * credential change, so one that was set is set again. 0 when done, -1 with a message on stderr.
 */
static inline int run_as_switch(uid_t uid, gid_t gid) {
  int pdeath = 0;
  prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0);
  if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
    fprintf(stderr, "cannot switch to %u:%u: %s\n", (unsigned)uid, (unsigned)gid, strerror(errno));
    return -1;
  }
  if (setuid(0) == 0) {
    fprintf(stderr, "still able to become root after dropping to %u:%u\n", (unsigned)uid, (unsigned)gid);
    return -1;
  }
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (pdeath != 0) prctl(PR_SET_PDEATHSIG, pdeath, 0, 0, 0);
  return 0;
}

/* ARDESIA_RUN_AS applied: 0 when dropped (or nothing asked), -1 with a message on stderr: the caller exits. */
static inline int run_as_drop(void) {
  const char *spec = getenv("ARDESIA_RUN_AS");
  if (spec == NULL || *spec == '\0') return 0;
  char *end;
  errno = 0;
  unsigned long uid = strtoul(spec, &end, 10);
  if (errno || end == spec || *end != ':') goto bad;
  const char *g = end + 1;
  unsigned long gid = strtoul(g, &end, 10);
  if (errno || end == g || *end != '\0' || uid == 0 || gid == 0) goto bad;
  return run_as_switch((uid_t)uid, (gid_t)gid);
bad:
  fprintf(stderr, "ARDESIA_RUN_AS must be UID:GID, both non-zero, not \"%s\"\n", spec);
  return -1;
}
#endif
