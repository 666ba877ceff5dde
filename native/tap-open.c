// Opens the host taps a VM's NICs use and hands them to the program it then runs (QEMU, through setpriv):
//   tap-open FD=IFNAME [FD=IFNAME ...] -- PROGRAM [ARG ...]
// Each tap is attached through /dev/net/tun (TUNSETIFF, IFF_TAP|IFF_NO_PI|IFF_VNET_HDR) and left open as
// descriptor FD, inherited across exec. The daemon runs this as root so that QEMU, running as the
// unprivileged account, never opens /dev/net/tun itself (it is 0600 on some hosts) and gets only its own taps.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_TAPS 64
// Taps are opened above every target number first, so an open never lands on a later tap's target.
#define SCRATCH_FD_BASE 512

static int usage(void) {
  fprintf(stderr, "usage: tap-open FD=IFNAME [FD=IFNAME ...] -- PROGRAM [ARG ...]\n");
  return 2;
}

static int open_tap(const char *ifname) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "tap-open: cannot open /dev/net/tun: %s\n", strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    fprintf(stderr, "tap-open: cannot attach tap %s: %s\n", ifname, strerror(errno));
    close(fd);
    return -1;
  }
  int scratch = fcntl(fd, F_DUPFD_CLOEXEC, SCRATCH_FD_BASE);
  close(fd);
  if (scratch < 0) fprintf(stderr, "tap-open: cannot move the descriptor of tap %s: %s\n", ifname, strerror(errno));
  return scratch;
}

int main(int argc, char **argv) {
  int targets[MAX_TAPS], opened[MAX_TAPS], n = 0, i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    char *eq = strchr(argv[i], '=');
    if (eq == NULL || n == MAX_TAPS) return usage();
    char *end;
    errno = 0;
    long target = strtol(argv[i], &end, 10);
    const char *ifname = eq + 1;
    if (errno || end != eq || target < 3 || target >= SCRATCH_FD_BASE || *ifname == '\0' || strlen(ifname) >= IFNAMSIZ) return usage();
    targets[n] = (int)target;
    if ((opened[n] = open_tap(ifname)) < 0) return 1;
    n++;
  }
  if (i + 1 >= argc) return usage();
  for (int k = 0; k < n; k++) {
    // dup2 gives the target without close-on-exec: QEMU inherits exactly these.
    if (dup2(opened[k], targets[k]) < 0) {
      fprintf(stderr, "tap-open: cannot place a tap at descriptor %d: %s\n", targets[k], strerror(errno));
      return 1;
    }
    close(opened[k]);
  }
  execvp(argv[i + 1], &argv[i + 1]);
  fprintf(stderr, "tap-open: cannot run %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
