fs0:
\vmlinuz.efi initrd=\initrd.img console=ttyS0 quiet
