// The one error registry: every error a user can meet has a stable code, an HTTP status
// and a message that says what happened and what to do. The API maps codes to status here only.

export const ERROR_REGISTRY = {
  BAD_REQUEST: { status: 400, hint: 'Check the request against the API description at /v1/openapi.json.' },
  VMCONF_PARSE: { status: 400, hint: 'Fix the file at the line and column shown, then load it again.' },
  VMCONF_UNSUPPORTED: { status: 400, hint: 'Remove the option; docs/vmconf.md lists what Ardesia maps and why.' },
  VM_SPEC_INVALID: { status: 400, hint: 'Fix the VM definition and try again.' },
  VM_NOT_FOUND: { status: 404, hint: 'List the defined VMs with `ardesia vm status`.' },
  VM_EXISTS: { status: 409, hint: 'Choose another name, or stop and remove the existing VM first.' },
  VM_RUNNING: { status: 409, hint: 'Stop the VM first with `ardesia vm stop NAME`.' },
  VM_NOT_RUNNING: { status: 409, hint: 'Start it with `ardesia vm start NAME`.' },
  VM_BUSY: { status: 409, hint: 'Another operation on this VM is in progress; wait for it and retry.' },
  VM_FILE_MISSING: { status: 400, hint: 'Check the path; files are resolved on the host running the daemon.' },
  VM_DISK_IN_USE: { status: 409, hint: 'Another VM (or program) has this disk open; stop it or use another disk.' },
  RUNTIME_PATH_TOO_LONG: { status: 400, hint: 'Use a shorter data folder (--data-dir) or VM name: unix socket paths are limited to 107 bytes.' },
  VM_NETWORK_SETUP: { status: 500, hint: 'The VM\'s network could not be set up on the host: check that the bridge exists (ip link show type bridge), that nftables is installed (node scripts/setup.mjs) and that the daemon runs as root.' },
  VM_START_FAILED: { status: 500, hint: 'See the QEMU log with `ardesia vm log NAME`.' },
  VM_MONITOR_FAILED: { status: 502, hint: 'QEMU did not carry out the command: the VM may be hung or stopping. See `ardesia vm status NAME` and `ardesia vm log NAME --qemu`, then retry, or stop it with `ardesia vm stop -f NAME`.' },
  VM_STOP_TIMEOUT: { status: 504, hint: 'The guest did not power off; use `ardesia vm stop -f NAME` to force it.' },
  VM_WAIT_TIMEOUT: { status: 504, hint: 'The VM is still running; wait longer or stop it.' },
  ACCEL_UNAVAILABLE: { status: 409, hint: 'Run `ardesia host check` to see why; use --accel tcg or auto.' },
  FORBIDDEN: { status: 403, hint: 'You may not do this: ask an administrator to do it for you, or to give you the right.' },
  UNAUTHENTICATED: { status: 401, hint: 'Log in first (the login page, or `ardesia login`), or send a valid API token.' },
  IMAGE_CREATE_FAILED: { status: 500, hint: 'See the message from qemu-img above.' },
  STORE_UNREACHABLE: { status: 503, hint: 'The daemon cannot read its store (DATA_DIR/ardesia.db): check the disk is not full or read-only, then restart the daemon.' },
  DAEMON_UNREACHABLE: { status: 503, hint: 'Start the daemon with `ardesia serve` (or `npm start`), or point --url/--socket at it.' },
  SOCKET_GROUP_UNKNOWN: { status: 400, hint: 'Give an existing group to --socket-group (`getent group` lists them), or create it first with groupadd.' },
  DAEMON_SOCKET_DENIED: { status: 403, hint: 'The daemon runs, but its socket is root-only: run the command as root (sudo), or start the daemon with `serve --socket-group GROUP` and join that group, or reach its HTTP API (`serve --listen ADDR:PORT`) with `ardesia --url http://ADDR:PORT login` and then --url.' },
  TIMEOUT: { status: 504, hint: 'The operation took too long; try again.' },
  INTERNAL: { status: 500, hint: 'The daemon met an unexpected failure: try again; if it persists, give an administrator the request id shown, which finds the details in the daemon log.' },
  FIRMWARE_UNAVAILABLE: { status: 409, hint: 'Install the firmware (Debian: ovmf for 64-bit UEFI, ovmf-ia32 for 32-bit UEFI) or boot this VM with BIOS.' },
  IMAGE_HOSTILE: { status: 400, hint: 'The image refers to other files or has impossible header values; export it again as a standalone image (qemu-img convert -O qcow2) and import that.' },
  IMAGE_INVALID: { status: 400, hint: 'qemu-img found the image damaged or unreadable; repair it at its source (qemu-img check -r all on a copy) or export it again.' },
  IMAGE_FORMAT_MISMATCH: { status: 400, hint: 'The file is not what its name or --format says (the message names what it is): give its real format with --format (qcow2, vmdk, vdi, vhdx, or raw for a plain disk of whole 512-byte sectors), unpack an archive first, or install from an ISO with --iso.' },
  IMAGE_CORRUPT: { status: 409, hint: 'The image file changed on disk; restore it from a backup or roll back to another version.' },
  HOME_SHRINK_REFUSED: { status: 400, hint: 'A home volume can only grow; give a size at least as large as the current one.' },
  NAME_INVALID: { status: 400, hint: 'Use 1-63 letters, digits, dot, dash or underscore, starting with a letter or digit.' },
  DISK_FULL: { status: 507, hint: 'The data folder is full: free space or grow it, then try again; nothing was changed.' },
  IMAGE_NOT_FOUND: { status: 404, hint: 'List the gold images with `ardesia image list`.' },
  IMAGE_EXISTS: { status: 409, hint: 'Choose another name, or delete the existing image with `ardesia image delete NAME`.' },
  IMAGE_VERSION_NOT_FOUND: { status: 404, hint: 'List the versions with `ardesia image versions NAME`.' },
  IMAGE_NO_VERSION: { status: 409, hint: 'Publish a first version (`ardesia image publish NAME`) before using the image.' },
  IMAGE_IN_USE: { status: 409, hint: 'Destroy or move the dependants listed, then try again.' },
  MAINTENANCE_ACTIVE: { status: 409, hint: 'Publish or discard the open session first (`ardesia image publish|discard NAME`).' },
  MAINTENANCE_NOT_FOUND: { status: 404, hint: 'Open one with `ardesia image edit NAME`.' },
  PUBLISH_FAILED: { status: 500, hint: 'The previous version is still current and the maintenance overlay is kept; fix the cause and publish again.' },
  IMAGE_BUILDER_MISSING: { status: 501, hint: 'This build of Ardesia has no Debian image builder (src/images/build/debian.ts); import a disk with --from or install from --iso.' },
  DESKTOP_NOT_FOUND: { status: 404, hint: 'List the desktops with `ardesia desktop list`.' },
  DESKTOP_EXISTS: { status: 409, hint: 'Choose another name, or destroy the existing desktop first.' },
  HOME_NOT_FOUND: { status: 404, hint: 'List the home volumes with `ardesia home list`.' },
  HOME_LEASED: { status: 409, hint: 'The home volume is attached to another running desktop; stop that desktop first.' },
  CONFIRMATION_REQUIRED: { status: 400, hint: 'Repeat the command with --yes to confirm.' },
  OPERATION_NOT_FOUND: { status: 404, hint: 'Operations are kept in memory for a while after they end; start the action again.' },
  POOL_NOT_ENTITLED: { status: 403, hint: 'Ask an administrator to entitle you (or one of your groups) to the pool.' },
  POOL_FULL: { status: 503, hint: 'Every desktop of the pool is taken; try again later or ask an administrator to raise maxDesktops.' },
  POOL_USER_LIMIT: { status: 409, hint: 'Log off (or have an administrator reset) one of your desktops in this pool first.' },
  POOL_BOOT_STORM: { status: 503, hint: 'Many desktops are starting at once; try again in a moment.' },
  POOL_DESKTOP_BUSY: { status: 503, hint: 'Your previous session is still ending; try again in a moment.' },
  PLACEMENT_NO_HOST_UP: { status: 503, hint: 'No host is up; start an agent or bring a host out of maintenance.' },
  PLACEMENT_NO_CAPACITY: { status: 503, hint: 'No host has enough free memory; stop some desktops or add a host.' },
  // pools and sessions
  POOL_NOT_FOUND: { status: 404, hint: 'List the pools with `ardesia pool list`.' },
  POOL_EXISTS: { status: 409, hint: 'Choose another name, or change the existing pool with `ardesia pool set NAME`.' },
  POOL_INVALID: { status: 400, hint: 'Fix the fields named in the message and try again; `ardesia pool create --help` (or `pool set --help`) lists them.' },
  POOL_IN_USE: { status: 409, hint: 'Users have sessions in this pool: log them off first (`ardesia session logoff DESKTOP`), then delete it.' },
  DESKTOP_STATE: { status: 409, hint: 'The desktop is not in a state that allows this; `ardesia pool desktops POOL` shows its state.' },
  DESKTOP_FAILED: { status: 502, hint: 'The desktop could not be prepared for you; try again (you will get another one) and tell an administrator if it persists.' },
  SESSION_NOT_FOUND: { status: 404, hint: 'List your sessions with `ardesia session list`.' },
  USER_NAME_UNSUITABLE: { status: 400, hint: 'Desktop accounts need a name of 1-32 lower-case letters, digits, "_" or "-", starting with a letter or "_"; create a user with such a name.' },

  // users, groups, login
  LOGIN_FAILED: { status: 401, hint: 'Check the user name and the password (letter case counts); after 5 failures logins pause for 5 minutes.' },
  LOGIN_RATE_LIMITED: { status: 429, hint: 'Too many failed logins; wait the time shown, or ask an administrator to check the user.' },
  USER_NOT_FOUND: { status: 404, hint: 'List the users with `ardesia user list`.' },
  USER_EXISTS: { status: 409, hint: 'Choose another name, or change the existing user with `ardesia user set NAME`.' },
  USER_NAME_RESERVED: { status: 400, hint: 'The names root and anonymous belong to the system; choose another name.' },
  GROUP_NOT_FOUND: { status: 404, hint: 'List the groups with `ardesia group list`, or create it with `ardesia group add NAME`.' },
  GROUP_EXISTS: { status: 409, hint: 'The group already exists; add members with `ardesia user set NAME --groups …`.' },
  PASSWORD_WEAK: { status: 400, hint: 'Choose a longer password (10 characters or more, not containing the user name), or let Ardesia generate one.' },
  PASSWORD_CURRENT_WRONG: { status: 403, hint: 'Give your current password to set a new one, or ask an administrator to reset it.' },

  // display gateway
  DISPLAY_TICKET_UNKNOWN: { status: 403, hint: 'Display tickets are single-use and short-lived: ask for a new one (POST /v1/desktops/NAME/display) and connect at once.' },
  DISPLAY_TICKET_USED: { status: 403, hint: 'A display ticket opens one connection only: ask for a new one to connect again.' },
  DISPLAY_TICKET_EXPIRED: { status: 403, hint: 'Connect within 30 seconds of asking for the ticket; ask for a new one.' },
  DISPLAY_TICKET_NOT_YOURS: { status: 403, hint: 'A display ticket works only for the user and browser session that asked for it; ask for your own.' },
  DISPLAY_TICKETS_EXHAUSTED: { status: 503, hint: 'Too many display tickets are waiting to be used; try again in a few seconds.' },
  DISPLAY_UNAVAILABLE: { status: 502, hint: 'The desktop is running but its display did not answer; try again, or reset the desktop if it persists.' },
  SPICE_NOT_ENABLED: { status: 409, hint: 'Give the VM a SPICE display (spec display.spice) and restart it, or use the browser display.' },

  // netboot and thin clients
  THINCLIENT_NOT_FOUND: { status: 404, hint: 'List the known thin clients with `ardesia thinclient list`; a client is registered when it first network-boots.' },
  THINCLIENT_NAME_TAKEN: { status: 409, hint: 'Choose another name, or rename the other thin client first.' },
  THINCLIENT_EXISTS: { status: 409, hint: 'That MAC is already in the inventory: change it with `ardesia thinclient set MAC …`.' },
  BOOT_FILE_NOT_FOUND: { status: 404, hint: 'Only the files listed in DATA_DIR/thinclient/current-ARCH/manifest.json are served, under /boot/files/ARCH/; rebuild the thin-client OS if one is missing.' },
  BOOT_RANGE_INVALID: { status: 416, hint: 'Ask for a byte range inside the file (Content-Range gives its size).' },
  THINCLIENT_OS_MISSING: { status: 503, hint: 'Build the thin-client OS of that architecture first: ardesia thinclient build --arch amd64|i386 (files go to DATA_DIR/thinclient/current-ARCH/).' },
  NETBOOT_CONFIG_INVALID: { status: 400, hint: 'Fix the netboot configuration file at the paths listed, then start again (docs/netboot.md shows an example).' },
  NETBOOT_START_FAILED: { status: 409, hint: "Check that each interface's address is one of this host's (`ip -brief address`) and that no other program holds its ports (DHCP 67 and 4011, TFTP 69); the netboot that ran before, if any, runs again (`ardesia netboot show`)." },
  NETBOOT_CONFIG_FROM_SERVE: { status: 409, hint: "This daemon's netboot comes from its `ardesia serve --netboot FILE`: edit that file and restart the daemon, or remove the option and restart to set netboot with `ardesia netboot set FILE` (or the site file)." },
  NETBOOT_DHCP_CONFLICT: { status: 409, hint: 'Use mode proxy beside the existing DHCP server, or set force: true on the interface if you are sure.' },

  // one process per data folder (DATA_DIR/ardesia.lock)
  DATA_DIR_IN_USE: { status: 409, hint: 'Use the running one (its socket is DATA_DIR/ardesia.sock), stop it first (kill PID, or systemctl stop ardesia), or give this one another --data-dir; `serve --netboot FILE` runs netboot inside the daemon.' },
  DATA_DIR_LOCK_FAILED: { status: 500, hint: 'The data folder could not be locked: install util-linux (it has flock) and check the folder is writable by this user.' },

  // the API itself
  BODY_TOO_LARGE: { status: 413, hint: 'Request bodies are limited to 1 MiB; large files are given by their path on the daemon\'s host, not sent in the body.' },
  NOT_FOUND: { status: 404, hint: 'There is no such route: check the method and the path; /v1/openapi.json lists every route.' },
  EVENTS_FULL: { status: 503, hint: 'Too many live-update streams are open at once: close console or portal tabs that are not in use, or try again in a minute.' },

  // building gold images from Debian packages (src/images/build)
  IMAGE_BUILD_NEEDS_ROOT: { status: 403, hint: 'Building from Debian packages needs root (mmdebstrap, a root-owned tree): run the daemon (for `image create --build`) or `ardesia thinclient build` as root; or import a gold image with --from instead.' },
  IMAGE_BUILD_NO_MIRROR: { status: 409, hint: 'Add a Debian bookworm mirror with "main" in /etc/apt/sources.list.d (deb822 .sources) and run apt-get update, or set ARDESIA_DEBIAN_MIRROR=http://… (for the daemon, or for `ardesia thinclient build`).' },
  IMAGE_BUILD_MIRROR_UNREACHABLE: { status: 502, hint: "The Debian mirror did not answer: check this host's network and proxy (http_proxy), or give a reachable mirror (ARDESIA_DEBIAN_MIRROR, or the entry in /etc/apt/sources.list.d), then build again." },
  IMAGE_BUILD_TOOL_MISSING: { status: 501, hint: 'A build tool is not installed: run `node scripts/setup.mjs` (it installs mmdebstrap, eatmydata, arch-test, e2fsprogs and qemu-utils), then build again.' },
  IMAGE_BUILD_FAILED: { status: 500, hint: 'A build step failed; the message ends with the last lines of its output. Fix what they name (disk space, the mirror, a package), then build again: finished steps are cached.' },

  // pool desktops
  DESKTOP_CLONE_FAILED: { status: 500, hint: "No desktop could be prepared: an administrator must fix the cause named (see `ardesia pool desktops POOL` and the pool's image with `ardesia image versions IMAGE`); try again after that." },

  // QEMU and the helpers run as an unprivileged account
  UNPRIVILEGED_ACCOUNT_MISSING: { status: 500, hint: 'The daemon runs as root but the account QEMU and the display/TFTP helpers run as does not exist: run `node scripts/setup.mjs` as root (it creates the system account ardesia-qemu), then try again.' },
  DATA_FOLDER_CLOSED_TO_QEMU: { status: 500, hint: 'QEMU runs as the unprivileged account ardesia-qemu and must pass through every folder above the data folder to reach its runtime folder: allow passage on the folder named (chmod o+x FOLDER, or chgrp ardesia-qemu FOLDER && chmod g+x FOLDER), or put the data folder elsewhere (--data-dir), then start the VM again.' },
  // VM owners confined to their own files (wt-owners; docs/security/20-owners.md)
  OWNER_PATH_FORBIDDEN: { status: 403, hint: 'Put the file in your own folder (DATA_DIR/owners/USER), or ask an administrator to allow its folder for you in the owner policy (serve --owner-policy FILE: roots / readOnlyRoots).' },
  OWNER_START_OVERRIDE: { status: 403, hint: 'Start the VM without -d/-r/-b/-i/--tftp-root style options, or ask an administrator to change its definition (vm.conf) for you.' },
  OWNER_NETWORK_FORBIDDEN: { status: 403, hint: 'Use user-mode networking, or ask an administrator to give you the bridge or tap in the owner policy (bridges / taps).' },
  OWNER_QUOTA_EXCEEDED: { status: 409, hint: 'Stop one of your running VMs (`ardesia vm status` lists them) or start this one with less memory or fewer vCPUs; an administrator can raise your caps in the owner policy.' },
  OWNER_POLICY_INVALID: { status: 400, hint: 'Fix the owner policy file at the paths listed (docs/security/20-owners.md shows an example), then start the daemon again.' },
  VM_FILE_NOT_REGULAR: { status: 400, hint: 'Name a regular file here: not a FIFO, socket, device or folder (and, for VM owners, no symlink leading out of their folders).' },
  // one DHCP port for netboot and local interfaces
  DHCP_PORT_UNAVAILABLE: { status: 500, hint: 'DHCP (netboot, or a VM\'s local interface) could not listen: run the daemon as root, build the helper with `node scripts/setup.mjs`, check the interface exists and holds the configured address, and give each link one DHCP server.' },
  // TLS on the API, the portal and SPICE
  TLS_CONFIG_INVALID: { status: 400, hint: 'Give --tls-cert and --tls-key together (PEM files), or --tls for the certificate Ardesia makes, or --insecure-http alone for plain HTTP (never on a network others share).' },
  TLS_CERT_FAILED: { status: 500, hint: "The daemon's TLS certificate could not be made or read: install openssl (node scripts/setup.mjs), check DATA_DIR/tls is writable by the daemon, or give your own with --tls-cert/--tls-key." },
  TLS_FINGERPRINT_INVALID: { status: 400, hint: 'Give the SHA-256 fingerprint the daemon printed at start (or `ardesia tls show` on the server): 64 hex digits, with or without colons.' },
  TLS_REQUIRED: { status: 400, hint: 'This server speaks HTTPS only: use https:// in the address (and `ardesia --url https://… login --fingerprint FP`); plain HTTP off loopback would send passwords in clear.' },
  TLS_SERVER_UNTRUSTED: { status: 502, hint: "The server's certificate is not the one you trust. Compare with `ardesia tls show` run on the server itself; if it was replaced on purpose, log in again with `ardesia --url URL login --fingerprint NEW` (or --ca FILE). Otherwise someone may be between you and the server: do not send a password." },
  // wt-logins: tokens, request origin and body type, console back-pressure
  TOKEN_NOT_FOUND: { status: 404, hint: 'List your tokens with `ardesia token list` (administrators: `ardesia token list --all`) and revoke one by its id.' },
  ORIGIN_REFUSED: { status: 403, hint: "A browser page of another site may not act with your session: use Ardesia's own pages. Scripts and the CLI send an API token (Authorization: Bearer) instead of the cookie." },
  BODY_NOT_JSON: { status: 415, hint: 'Send the request body as JSON with Content-Type: application/json.' },
  CONSOLE_TOO_SLOW: { status: 503, hint: 'The console client did not read the output fast enough and was dropped (the daemon keeps only a bounded backlog): reconnect, with `ardesia vm log NAME` to see what was missed.' },
  // wt-paste: the portal holds a paste until the session's clipboard agent is up (SessionInfo.clipboardReady)
  CLIPBOARD_NOT_READY: { status: 504, hint: "The desktop's clipboard agent (spice-vdagent) did not start in your session: paste again in a moment; if it keeps failing, log off and open the desktop again, or ask an administrator to check that the pool's image has spice-vdagent." },
  // wt-natguard: guests on user-mode NAT do not reach the host (docs/security/60-guest-nat.md)
  NAT_GUARD_UNAVAILABLE: { status: 503, hint: "Install nftables (`node scripts/setup.mjs`) and restart the daemon as root: it installs the nftables table (inet ardesia_guard_…) that keeps NAT guests off this host's addresses (its log says why it failed). Or use a bridge network; `serve --allow-unguarded-nat` starts NAT VMs without it (their guests then reach the host's loopback and daemon ports)." },
  NAT_HOST_GROUP_MISSING: { status: 500, hint: 'Run `node scripts/setup.mjs` as root (it creates the group ardesia-qemu-host) and restart the daemon, or remove host access from the VM or pool network.' },
  // wt-kiosktls: the CA the thin-client OS bakes in for its kiosk
  THINCLIENT_CA_INVALID: { status: 400, hint: "Give `ardesia thinclient build --portal-ca FILE` one PEM certificate: the CA that signed the portal's HTTPS certificate (DATA_DIR/tls/ca.crt is used when --portal-ca is not given; start the daemon once with --listen to make it)." },
  // wt-pgstore: PostgreSQL as the store (--database / ARDESIA_DATABASE)
  DATABASE_URL_INVALID: { status: 400, hint: 'Give --database (or ARDESIA_DATABASE) as `sqlite` (the embedded store in DATA_DIR/ardesia.db, the default) or a PostgreSQL URL: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (?host=/socket/folder for a Unix socket).' },
  DATABASE_UNREACHABLE: { status: 503, hint: 'PostgreSQL did not answer: check that it runs, that the URL names the right host, port, database and user (psql URL tests it), and that pg_hba.conf lets this host in.' },
  // Several `serve` on one PostgreSQL: one leads (the controller_leadership row's term), the others stand by
  CONTROLLER_STANDBY: { status: 503, hint: 'This controller is a standby: send the request to the leader named in the message (its address is also in the X-Ardesia-Leader header). A standby takes over by itself once the leader stops renewing its lease.' },
  CONTROLLER_DEPOSED: { status: 503, hint: "This controller's term no longer leads (another took over while it was stopped or cut off from the database): it stops acting and exits; its restart stands by. Send the request to the leader." },
  // Backup, restore and upgrades (src/ops, src/store/migrate.ts)
  STORE_NEWER: { status: 409, hint: 'This store was upgraded by a newer Ardesia: run that release (or a later one) on it, or restore a backup taken before the upgrade (`ardesia restore`; the automatic ones are next to the store).' },
  STORE_UPGRADE_FAILED: { status: 500, hint: 'The migration named was rolled back and the store keeps its earlier migrations; the automatic backup named in the message holds the store as it was. Fix the cause in the message and start the daemon again.' },
  BACKUP_FAILED: { status: 500, hint: 'Nothing was written to the backup file; fix the cause in the message (disk space, permissions) and run `ardesia backup` again.' },
  BACKUP_HOME_IN_USE: { status: 409, hint: 'The home could not be copied while its desktop runs (see the message); log the user off, or back up without --with-homes.' },
  BACKUP_INVALID: { status: 400, hint: 'The file is not an intact Ardesia backup (damaged, truncated or altered): nothing was restored. Use another copy of the backup.' },
  RESTORE_TARGET_NOT_EMPTY: { status: 409, hint: 'Restore into an empty (or new) data folder with --data-dir, and an empty PostgreSQL database with --database; move or delete what is there first.' },
  RESTORE_FAILED: { status: 500, hint: 'What the restore had written was removed again; fix the cause in the message and run `ardesia restore` again.' },
  POSTGRES_TOOLS_MISSING: { status: 501, hint: 'Install the PostgreSQL client programs of the server\'s major version (Debian: apt install postgresql-client-NN); pg_dump must not be older than the server.' },
  // Hosts of the cluster and placement
  HOST_NOT_FOUND: { status: 404, hint: '`ardesia host list` shows the known hosts; a host joins when its daemon (or, later, its agent) starts.' },
  HOST_IN_USE: { status: 409, hint: 'Drain the host first (`ardesia host drain NAME`), then end or stop what `ardesia host show NAME` still lists there, and remove it once nothing runs there.' },
  HOST_LABELS_FROM_SERVE: { status: 409, hint: "This host's labels come from its `ardesia serve --host-label` options, set at each start: change them there, or remove the options and restart its daemon to edit the labels here." },
  HOST_IS_CONTROLLER: { status: 409, hint: "The controller's own host runs the embedded agent and cannot be removed while its daemon serves; drain it instead (`ardesia host drain NAME`)." },
  PLACEMENT_NO_LABELED_HOST: { status: 503, hint: "No host that is up carries the labels the pool requires (or each has one it avoids): change the pool's host labels, or label a host as it asks." },
  PLACEMENT_NO_SHARED_STORAGE: { status: 503, hint: "Home volumes, persistent desktops and plain VMs keep their disks on the shared data folder: run them on a host that mounts it (an agent without --storage local), or give the pool scratch homes (`ardesia pool set NAME --home scratch`) and make it non-persistent." },
  IMAGE_COPY_INCOMPLETE: { status: 503, hint: "The copy of an image file to a host without shared storage was cut (its link, or the controller, went away): the next start there goes on from the bytes that arrived. See the agent's log." },
  PLACEMENT_NO_VCPUS: { status: 503, hint: 'No host has enough vCPUs free under its overcommit ratio: stop desktops or VMs, add a host, raise `serve --cpu-overcommit`, or give the pool or VM fewer vCPUs.' },
  // One uid per running VM, the NAT allow-list enforced by nftables
  VM_UIDS_EXHAUSTED: { status: 503, hint: 'Every uid of its half of the VM range (serve --vm-uid-base: 32768 uids for VMs with a NAT allow-list, 32768 for the others) is held by a running VM: stop one first.' },
  VM_UID_RANGE_IN_USE: { status: 503, hint: 'Accounts in /etc/passwd use uids of the range Ardesia gives one per running VM: start the daemon with `serve --vm-uid-base N` on a range of 65536 uids no passwd entry or /etc/subuid range uses (`node scripts/setup.mjs` checks the default).' },

  // Directory sources (OpenLDAP, Active Directory)
  DIRECTORY_CONFIG_INVALID: { status: 400, hint: 'Fix the directory configuration at the paths named in the message (README "Directory logins" shows an AD and an OpenLDAP example), then start the daemon again.' },
  DIRECTORY_UNREACHABLE: { status: 503, hint: 'The directory cannot be reached: try again later; local accounts still log in. An administrator can check the source with `ardesia directory status`.' },
  DIRECTORY_ACCOUNT_DISABLED: { status: 403, hint: "Your directory account is disabled: ask the directory's administrator to enable it." },
  DIRECTORY_ACCOUNT_EXPIRED: { status: 403, hint: "Your directory account has expired: ask the directory's administrator to extend it." },
  DIRECTORY_ACCOUNT_LOCKED: { status: 403, hint: "Your directory account is locked after failed logins: wait, or ask the directory's administrator to unlock it." },
  DIRECTORY_PASSWORD_MUST_CHANGE: { status: 403, hint: 'Your directory password must be changed before you can log in: change it on a PC of your organisation, then log in here with the new one.' },
  DIRECTORY_NAME_TAKEN: { status: 409, hint: 'A local Ardesia account (or another directory account) already has this name, and Ardesia never merges them: ask an administrator to rename or delete the local account.' },
  DIRECTORY_NOT_CONFIGURED: { status: 404, hint: 'No directory source is configured: add one in the console (Directory sources → Add), or start the daemon with `serve --directory FILE` (README "Directory logins").' },
  DIRECTORY_USER_NOT_FOUND: { status: 404, hint: 'No configured directory source has this user: check the name, the user base DN and the login attribute of the source.' },
  // Two-factor sign-in.
  MFA_CODE_REQUIRED: { status: 401, hint: 'This account uses two-factor sign-in: give the 6-digit code your authenticator app shows for Ardesia (or one of your recovery codes) with the password (`ardesia login --code CODE`, or type it when asked).' },
  MFA_CODE_WRONG: { status: 401, hint: "Type the code your authenticator app shows now (each code works once: wait for the next one if you just used it), and check the phone's clock is right; lost the phone? Use a recovery code, or ask an administrator for `ardesia user mfa reset NAME`." },
  MFA_ENROLMENT_REQUIRED: { status: 403, hint: 'This site requires two-factor sign-in for administrators: set it up first in the portal (Two-factor sign-in: scan the QR code, confirm with a code), then everything else works again.' },
  MFA_ALREADY_ENABLED: { status: 409, hint: 'Two-factor sign-in is already on for this account; to move it to a new phone, ask an administrator for `ardesia user mfa reset NAME`, then set it up again.' },
  KIOSK_ACCOUNT_ADMIN: { status: 400, hint: 'A kiosk account opens on any PC that claims its thin client\'s MAC: it never has the admin role nor a password. Use an ordinary account for administration, or make the account an ordinary one first (kiosk: false).' },
  KIOSK_NOT_CONFIGURED: { status: 404, hint: 'This thin client opens no kiosk account: an administrator names one in the console (Thin clients → Kiosk account) or with `ardesia thinclient set MAC --kiosk-user NAME`; until then its users log in.' },
  KIOSK_SESSION_LIMITED: { status: 403, hint: 'A kiosk session only opens its thin client\'s desktop: for anything else log in with your own account on an ordinary portal page.' },
  KIOSK_USER_INVALID: { status: 400, hint: 'Name a kiosk account (created with kiosk: true, `ardesia user add NAME --kiosk`): an ordinary account cannot be opened without its password.' },
  MFA_NOT_PENDING: { status: 409, hint: 'Start the set-up first (POST /v1/auth/mfa/enrol, or "Set up two-factor sign-in" in the portal): it shows the QR code whose code you then confirm.' },
  // wt-dirconsole: directory sources edited in the console and the API.
  DIRECTORY_SOURCE_INVALID: { status: 400, hint: 'Fix the settings at the paths named in the message (README "Directory logins" shows an AD and an OpenLDAP example), then save again.' },
  DIRECTORY_SOURCE_FROM_FILE: { status: 409, hint: "This source comes from the daemon's --directory file: change it in that file and restart the daemon, or give the console's source another name." },
  DIRECTORY_SOURCE_EXISTS: { status: 409, hint: 'A directory source of this name exists: edit it (PUT /v1/directory/sources/NAME, or Edit in the console), or choose another name.' },
  DIRECTORY_SOURCE_NOT_FOUND: { status: 404, hint: 'GET /v1/directory/sources (or Directory in the console) lists the sources there are.' },
  // The site as code (src/site/)
  SITE_FILE_INVALID: { status: 400, hint: 'Fix the site file at the paths named in the message (README "The site as code" shows an example), then run plan again; nothing was changed.' },
  SITE_IMAGE_SHA256_MISMATCH: { status: 400, hint: 'The file to import is not the one the site file names: put the right file at that path, or write its real sha256 (sha256sum FILE) if it is the one you mean; nothing was changed.' },
  SITE_CONFLICT: { status: 409, hint: 'The site file asks for something the current site cannot take (the message says what): change the file or the site, then run plan again; nothing was changed.' },
  // Memory sharing
  KSM_UNAVAILABLE: { status: 409, hint: "This host's kernel has no KSM (CONFIG_KSM), or the daemon cannot write /sys/kernel/mm/ksm (not root, or /sys read-only in a container); `ardesia host show NAME` reports what the kernel offers." },
  KSM_UNMERGE_NO_ROOM: { status: 409, hint: 'Unmerging copies every merged page back at once: stop or drain desktops until that much memory is free, or turn KSM off instead (`ardesia host ksm off`), which keeps what is merged.' },
  KSM_HOST_NOT_LOCAL: { status: 409, hint: "KSM is set on the controller's own host only (its sysfs is local): run `ardesia host ksm` against the daemon of the host you mean." },
  // Saved VM states (vm send / receive, vm stop --to-disk, a start that resumes)
  VM_STATE_SAVE_FAILED: { status: 500, hint: 'QEMU could not write the VM\'s state; the VM was resumed and keeps running. See `ardesia vm log NAME --qemu`, check the data folder has room for the VM\'s memory, then retry.' },
  VM_STATE_INVALID: { status: 400, hint: 'The file is not a whole Ardesia VM state (damaged, cut short, or not written by `ardesia vm send`): send it again from its source; nothing was changed.' },
  VM_STATE_MISMATCH: { status: 409, hint: 'A state loads only into an identical VM (same QEMU, machine type, memory, vCPUs, devices) whose disks are exactly as they were when it was saved; the message lists what differs. Undo that change, or boot the VM afresh with `ardesia vm start NAME --discard-state` (the saved state is then deleted).' },
  VM_STATE_RESTORE_FAILED: { status: 500, hint: 'QEMU could not load the saved state (see `ardesia vm log NAME --qemu`); the state file is kept. Retry, or boot the VM afresh with `ardesia vm start NAME --discard-state`.' },
  VM_TEMPLATE_HOST_UNFIT: { status: 409, hint: "A restore template's clone was placed on a host whose QEMU build or accelerator differs from the one the template was saved under (hosts upgraded one at a time, a host without KVM): the desktop boots afresh there instead, and the template is kept for the other hosts. Nothing to do; once every host runs the same QEMU, clones restore everywhere." },
  VM_STATE_HOST_UNAVAILABLE: { status: 409, hint: "The VM's state was saved on one host (`vm stop --to-disk`) and resumes only where it can load: on the agent's host it was saved on, or, saved on the controller's host, there or on a host with the same QEMU build and accelerator (it is copied there). Start it once such a host is up and its agent linked (`ardesia host list`), or boot it afresh on any host with `ardesia vm start NAME --discard-state` (the state is then deleted, at once or when its agent is back)." },
  VM_STATE_TRANSFER_FAILED: { status: 502, hint: "A saved state's stream between the controller and the VM's host was cut (the link dropped, a host's agent stopped, or the receiver went away); the state is kept where it was. Retry once the host's agent is linked again (`ardesia host list`)." },
  VM_STATE_EXISTS: { status: 409, hint: 'This VM already has a saved state: resume it with `ardesia vm start NAME`, or delete it with `ardesia vm start NAME --discard-state` before receiving another.' },
  VM_STATE_NOT_SEALED: { status: 403, hint: 'A VM owner can receive only states this site sent (`ardesia vm send`), sealed with its key; this one carries no valid seal (crafted, edited, or from another site). Ask an administrator to receive it: they can load a state from anywhere.' },
  // Remote agents joining the controller (ardesia host add, ardesia agent).
  AGENT_JOIN_TOKEN_INVALID: { status: 400, hint: 'Copy the whole token `ardesia host add NAME` printed (one line, starting ardesia-join.), or print a new one.' },
  AGENT_JOIN_TOKEN_REFUSED: { status: 401, hint: 'A join token works once and only until it expires: print a new one with `ardesia host add NAME` on the controller and start the agent with it.' },
  AGENT_CONTROLLER_MISMATCH: { status: 502, hint: "The server that answered is not the controller the token was made on (its certificate's SHA-256 differs from the one the token pins): check --controller and the network path; nothing was sent to it. If the controller's certificate was renewed, print a new token with `ardesia host add NAME`." },
  AGENT_CREDENTIAL_REFUSED: { status: 401, hint: 'The controller does not know this agent (its host was removed with `ardesia host remove`, or the data folder is from another controller): print a join token with `ardesia host add NAME`, and start the agent with --join TOKEN.' },
  AGENT_NEEDS_POSTGRES: { status: 409, hint: 'Remote agents share the cluster state through PostgreSQL: start the controller with `ardesia serve --database postgres://…` (README "Several hosts"); with SQLite it runs its own host only.' },
  AGENT_PROTOCOL_MISMATCH: { status: 400, hint: 'The agent and the controller speak different versions of the agent protocol: install the same Ardesia version on both.' },
  AGENT_HOST_EXISTS: { status: 409, hint: 'A host of this name is joined already: remove it first (`ardesia host remove NAME`), or give the new host another name.' },
  AGENT_NOT_JOINED: { status: 400, hint: 'This data folder holds no agent credential: start the agent once with --join TOKEN (from `ardesia host add NAME` on the controller).' },
  AGENT_LINK_REPLACED: { status: 409, hint: 'Another agent process connected with the same credential and took over the link: run one agent per host and data folder.' },
  AGENT_CONTROLLER_NO_HTTPS: { status: 409, hint: 'Agents dial the controller over HTTPS and pin its certificate: restart it with `ardesia serve --database postgres://… --listen ADDR:PORT` (HTTPS), then print the token again.' },
  AGENT_NOT_LINKED: { status: 503, hint: "The VM's host runs its VMs through its agent, which is not connected now: start `ardesia agent` on that host (`ardesia host list` shows which agents are linked), or drain the host (`ardesia host drain NAME`) so that placement picks another." },
  AGENT_STREAM_REFUSED: { status: 401, hint: 'A console stream is opened by the controller for one agent, once, within seconds: open the console again through the controller (`ardesia vm console NAME`).' },
  DISPLAY_HOP_UNREACHABLE: { status: 502, hint: "The agent could not reach the controller's display hop (native/display-hop.c listens on the controller's address at a port the kernel picks): allow TCP from the agents' hosts to that address at any port, or run the agents with ARDESIA_DISPLAY_HOP=off. Meanwhile the controller sends that host's displays as WebSocket streams." },
  AGENT_STREAM_TIMEOUT: { status: 504, hint: "The VM's agent did not dial back the console stream: check that the agent can reach the controller (`ardesia host list` shows whether it is linked, its log says why a dial failed), then open the console again." },
  DESKTOP_HOST_UNREACHABLE: { status: 503, hint: 'Your session had not started there: connect again for a desktop on another server. If your home volume is held by that desktop, it is freed once its server is back or judged down (its storage lease expired).' },
  DESKTOP_HOST_LOST: { status: 410, hint: 'Open the pool again (the portal does it by itself): a desktop on another server gets your home volume, with your files as last saved there.' },
  AGENT_COMMAND_TIMEOUT: { status: 504, hint: "The agent of the desktop's host did not answer a step on its VM in time: `ardesia host list` shows whether it is linked and its log says why; the desktop's next step (logoff, reconnect) tries again." },
  VM_MIGRATION_FAILED: { status: 502, hint: 'The live migration did not complete (the message says which side stopped it): the VM runs on where it was (any home lease it gave for the move taken back), and the destination keeps nothing (an agent that died mid-move kills its unresumed copy when it returns). See the agents\' logs and `ardesia vm log NAME --qemu` on each host, then drain again or migrate it again.' },
  VM_NOT_MIGRATABLE: { status: 409, hint: "A running VM or a persistent desktop (ready, in use or disconnected) moves by live migration to an agent's host, or to the controller's own host when named with --to; a non-persistent pool desktop moves at its next logoff (its spares at once); a stopped VM starts where placement puts it." },
  VM_REMOTE_NOT_SUPPORTED: { status: 409, hint: "Not yet done through an agent: a restore template being built, and SPICE to a VM on an agent's host from a controller without --listen. Run the VM on the controller's own host for these (drain the other hosts before its start), or serve --listen for SPICE." },
  // Home-volume leases on shared storage: sanlock, src/cluster/home-leases/
  HOME_LEASE_HELD: { status: 409, hint: 'Your desktop on another server is still ending (or that server stopped and its lease has not yet expired): wait a minute and log in again. An administrator sees the holder with `ardesia home show USER`.' },
  LEASE_DAEMON_UNAVAILABLE: { status: 503, hint: 'This host runs with `serve --home-leases sanlock` but its sanlock daemon is not running or has not joined the site lockspace: start it (`systemctl start wdmd sanlock`, or `sanlock daemon` with a watchdog in production) and restart `ardesia serve`; README "Several hosts" says how.' },
  FENCE_CONFIG_INVALID: { status: 400, hint: 'serve --fence-config FILE takes a JSON object of host name → fence agent command without its action ({"blade2": ["/usr/sbin/fence_ipmilan", "--ip=10.0.0.12", "--username=admin", "--password-script=/etc/ardesia/bmc-pass"]}), in a file owned by root and writable by root only.' },
  HOME_LEASE_FAILED: { status: 500, hint: 'sanlock refused the request for an unexpected reason (the code is in the message): check /var/log/sanlock.log on this host and that DATA_DIR/leases is on the shared storage, readable and writable by the sanlock user.' },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

/** The body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; hint: string; details?: unknown };
}

export class ArdesiaError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  /** A hint for this occurrence (e.g. FORBIDDEN naming who may use the route); otherwise the registry's. */
  private readonly ownHint: string | undefined;
  constructor(code: ErrorCode, message: string, details?: unknown, hint?: string) {
    super(message);
    this.name = 'ArdesiaError';
    this.code = code;
    this.details = details;
    this.ownHint = hint;
  }
  get status(): number {
    return ERROR_REGISTRY[this.code].status;
  }
  get hint(): string {
    return this.ownHint ?? ERROR_REGISTRY[this.code].hint;
  }
  get hasOwnHint(): boolean {
    return this.ownHint !== undefined;
  }
  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message, hint: this.hint } };
    if (this.details !== undefined) body.error.details = this.details;
    return body;
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_REGISTRY, code);
}

/** A short reference that ties what a user was told to the daemon log line with the details. */
export function errorRef(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, '0');
}

/**
 * What a user is told of any failure: an ArdesiaError as it is, anything else INTERNAL with the
 * reference `ref`, never its text (paths, stacks): the caller logs the error with `ref`.
 */
export function errorForUser(err: unknown, ref: string): ArdesiaError {
  if (err instanceof ArdesiaError) return err;
  return new ArdesiaError('INTERNAL', `unexpected failure in the daemon (reference ${ref} in its log)`, { ref });
}
