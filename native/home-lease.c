// home-lease: the daemon's hands on sanlock for home-volume leases (src/cluster/home-leases/sanlock.ts).
//   home-lease register [--acquire LOCKSPACE:RESOURCE:PATH:OFFSET]... -- PROGRAM ARGS...
//                                            register this process with the sanlock daemon, acquire the resources
//                                            for it, then exec PROGRAM: the pid stays the same, so QEMU (exec'd later
//                                            by setpriv) is the client and holds them before it opens any disk
//   home-lease acquire PID LOCKSPACE RESOURCE PATH OFFSET
//   home-lease release PID LOCKSPACE RESOURCE PATH OFFSET
//   home-lease inquire PID                   prints the resources PID holds, as sanlock's state string
// acquire never waits for a holder whose host has gone quiet (SANLK_ACQUIRE_OWNER_NOWAIT): the caller decides.
// Exit status 0 on success; otherwise one line "sanlock RV" (negative errno or SANLK_* code) on stdout, status 1.
// register refused by sanlock before the exec (no daemon, a resource held elsewhere): "sanlock RV", status 3
// (EXIT_REFUSED_BEFORE_EXEC), so the daemon tells it from the program's own failures; the program never runs.
// Built against libsanlock (Debian's libsanlock-dev) by scripts/setup.mjs.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sanlock.h>
#include <sanlock_resource.h>

#define EXIT_REFUSED_BEFORE_EXEC 3

static int usage(void) {
  fprintf(stderr,
          "usage: home-lease register [--acquire LOCKSPACE:RESOURCE:PATH:OFFSET]... -- PROGRAM [ARGS...]\n"
          "       home-lease acquire|release PID LOCKSPACE RESOURCE PATH OFFSET\n"
          "       home-lease inquire PID\n");
  return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0') return -1;
  *out = v;
  return 0;
}

static int parse_pid(const char *s, int *out) {
  uint64_t v;
  if (parse_u64(s, &v) < 0 || v == 0 || v > 0x7fffffff) return -1;
  *out = (int)v;
  return 0;
}

static int failed(int rv) {
  printf("sanlock %d\n", rv);
  return 1;
}

// One resource on one disk; sanlock wants the disk area right after the struct.
struct one_disk_resource {
  struct sanlk_resource res;
  struct sanlk_disk disk;
};

static int fill(struct one_disk_resource *r, char **argv) {
  memset(r, 0, sizeof(*r));
  if (strlen(argv[0]) >= SANLK_NAME_LEN || strlen(argv[1]) >= SANLK_NAME_LEN || strlen(argv[2]) >= SANLK_PATH_LEN) return -1;
  memcpy(r->res.lockspace_name, argv[0], strlen(argv[0]));
  memcpy(r->res.name, argv[1], strlen(argv[1]));
  memcpy(r->disk.path, argv[2], strlen(argv[2]));
  if (parse_u64(argv[3], &r->disk.offset) < 0) return -1;
  r->res.num_disks = 1;
  return 0;
}

static int refused(int rv, const char *doing) {
  fprintf(stderr, "home-lease: %s refused by sanlock (%d)\n", doing, rv);
  printf("sanlock %d\n", rv);
  return EXIT_REFUSED_BEFORE_EXEC;
}

// LOCKSPACE:RESOURCE:PATH:OFFSET as sanlock writes it; the path (between the second and the last colon) may hold colons.
static int fill_text(struct one_disk_resource *r, char *text) {
  char *first = strchr(text, ':');
  char *second = first ? strchr(first + 1, ':') : NULL;
  char *last = strrchr(text, ':');
  if (!second || last == second) return -1;
  *first = *second = *last = '\0';
  char *fields[4] = {text, first + 1, second + 1, last + 1};
  return fill(r, fields);
}

static int do_register(int argc, char **argv) {
  static struct one_disk_resource wanted[SANLK_MAX_RESOURCES];
  struct sanlk_resource *list[SANLK_MAX_RESOURCES];
  int count = 0, i = 0;
  for (; i + 1 < argc && strcmp(argv[i], "--acquire") == 0; i += 2) {
    if (count == SANLK_MAX_RESOURCES || fill_text(&wanted[count], argv[i + 1]) < 0) return usage();
    list[count] = &wanted[count].res;
    count++;
  }
  if (argc - i < 2 || strcmp(argv[i], "--") != 0) return usage();
  char **program = &argv[i + 1];
  int sock = sanlock_register();
  if (sock < 0) return refused(sock, "registering");
  // Acquired on the registration itself (pid -1: this client), before the program runs and opens its disks.
  if (count > 0) {
    int rv = sanlock_acquire(sock, -1, SANLK_ACQUIRE_OWNER_NOWAIT, count, list, NULL);
    if (rv < 0) return refused(rv, "acquiring");
  }
  // The program must not send sanlock commands of its own (QEMU is not trusted to release its lease).
  int rv = sanlock_restrict(sock, SANLK_RESTRICT_ALL);
  if (rv < 0) return refused(rv, "restricting");
  // The registration lives as long as this socket: kept open across exec, closed only when the process ends.
  int flags = fcntl(sock, F_GETFD);
  if (flags < 0 || fcntl(sock, F_SETFD, flags & ~FD_CLOEXEC) < 0) return refused(-errno, "keeping the registration");
  execvp(program[0], program);
  fprintf(stderr, "home-lease: cannot run %s: %s\n", program[0], strerror(errno));
  return 127;
}

static int do_resource(int acquire, int argc, char **argv) {
  if (argc != 5) return usage();
  int pid;
  struct one_disk_resource r;
  if (parse_pid(argv[0], &pid) < 0 || fill(&r, &argv[1]) < 0) return usage();
  struct sanlk_resource *list[1] = {&r.res};
  int rv = acquire ? sanlock_acquire(-1, pid, SANLK_ACQUIRE_OWNER_NOWAIT, 1, list, NULL) : sanlock_release(-1, pid, 0, 1, list);
  return rv < 0 ? failed(rv) : 0;
}

static int do_inquire(int argc, char **argv) {
  if (argc != 1) return usage();
  int pid;
  if (parse_pid(argv[0], &pid) < 0) return usage();
  int count = 0;
  char *state = NULL;
  int rv = sanlock_inquire(-1, pid, 0, &count, &state);
  if (rv < 0) return failed(rv);
  printf("%s\n", state ? state : "");
  free(state);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "register") == 0) return do_register(argc - 2, argv + 2);
  if (strcmp(argv[1], "acquire") == 0) return do_resource(1, argc - 2, argv + 2);
  if (strcmp(argv[1], "release") == 0) return do_resource(0, argc - 2, argv + 2);
  if (strcmp(argv[1], "inquire") == 0) return do_inquire(argc - 2, argv + 2);
  return usage();
}
