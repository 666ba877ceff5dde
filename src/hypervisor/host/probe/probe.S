/*
 * Ardesia KVM probe — a tiny multiboot (v1) guest that does what every real kernel does in
 * its first milliseconds, so that "KVM works" means "KVM runs a real guest", not merely
 * "/dev/kvm exists" (on paravirtualised hosts KVM_RUN works for trivial code, yet real
 * guests hang or die with "KVM internal error ... emulation failure").
 *
 * QEMU's multiboot loader enters entry32 in 32-bit protected mode, paging off. We then
 *   1. print "ARDESIA-KVM-PROBE-PM" on COM1 (polling the line status register),
 *   2. fill identity-mapped 4-level page tables (one 2 MiB page) in bss, put the local
 *      APIC in "virtual wire" mode (as SeaBIOS does, qboot does not), load an IDT,
 *      enable PAE (CR4), set EFER.LME (rdmsr/wrmsr), load a GDT with a 64-bit code
 *      segment, enable paging (CR0.PG) and far-jump into long mode,
 *   3. check EFER.LMA and print "ARDESIA-KVM-PROBE-LM",
 *   4. raise a breakpoint exception (int3) whose IDT handler prints "ARDESIA-KVM-PROBE-BP",
 *   5. program the 8259 PIC and the PIT, wait (sti; hlt) for one timer interrupt whose
 *      handler prints "ARDESIA-KVM-PROBE-IRQ",
 *   6. print "ARDESIA-KVM-PROBE-OK" and leave through isa-debug-exit (port 0xf4, value
 *      0x10 → QEMU exit status 33), or halt forever when that device is absent.
 * Each marker ends in "\n"; the host reads them to say how far a failing vCPU got.
 *
 * Run:  qemu-system-x86_64 -M pc [-bios qboot.rom] -accel kvm -nodefaults -display none -no-reboot -m 32 \
 *         -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio -kernel probe.bin
 *
 * Production hosts may have no assembler: ../probe-image.ts emits these exact bytes from a
 * hand-encoded table. Assemble here only to check that table (test/host/probe-asm.test.ts):
 *   as --32 -o probe.o probe.S && ld -m elf_i386 -Ttext=0x100000 --oformat=binary -o probe.bin probe.o
 */
        .intel_syntax noprefix

        .set LOAD_ADDR, 0x100000        /* where the multiboot address fields load us */
        .set PML4,      0x101000        /* page tables live in bss, 4 KiB aligned */
        .set PDPT,      0x102000
        .set PD,        0x103000
        .set STACK_TOP, 0x105000        /* 4 KiB stack above the page tables */
        .set BSS_END,   0x105000
        .set MB_MAGIC,  0x1BADB002
        .set MB_FLAGS,  0x00010000      /* bit 16: the address fields below are valid */
        .set COM1,      0x3f8
        .set COM1_LSR,  0x3fd
        .set LSR_THRE,  0x20            /* transmit holding register empty */
        .set EFER,      0xC0000080
        .set DEBUG_EXIT_PORT, 0xf4
        .set APIC_SVR,  0xFEE000F0      /* local APIC, reached before paging is on */
        .set APIC_LINT0, 0xFEE00350

        .text
        .code32
        .globl _start
_start:
mb_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)    /* checksum: the three words sum to 0 */
        .long mb_header                 /* header_addr */
        .long LOAD_ADDR                 /* load_addr */
        .long load_end                  /* load_end_addr */
        .long BSS_END                   /* bss_end_addr: the loader zeroes the tables */
        .long entry32                   /* entry_addr */

entry32:
        cli
        mov     esp, STACK_TOP
        mov     esi, offset msg_pm
        call    puts
        mov     dword ptr [PML4], PDPT + 3      /* present | writable */
        mov     dword ptr [PDPT], PD + 3
        mov     dword ptr [PD], 0x83            /* present | writable | 2 MiB page at 0 */
        mov     dword ptr [APIC_SVR], 0x1FF     /* software-enable the local APIC */
        mov     dword ptr [APIC_LINT0], 0x700   /* LINT0 = ExtINT: the 8259 reaches the CPU */
        mov     eax, PML4
        mov     cr3, eax
        mov     eax, cr4
        or      eax, 0x20                       /* CR4.PAE */
        mov     cr4, eax
        mov     ecx, EFER
        rdmsr
        or      eax, 0x100                      /* EFER.LME */
        wrmsr
        lgdt    [gdt_desc]
        lidt    [idt_desc]                      /* 64-bit gates; base < 4 GiB, so load it here */
        mov     eax, cr0
        or      eax, 0x80000001                 /* CR0.PG | CR0.PE */
        mov     cr0, eax
        ljmp    0x08, offset entry64

        .code64
entry64:
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, STACK_TOP
        mov     ecx, EFER
        rdmsr
        test    eax, 0x400                      /* EFER.LMA: long mode is really active */
        jz      stop
        mov     esi, offset msg_lm
        call    puts
        int3                                    /* exception delivery through the IDT */
        mov     al, 0x11                        /* PIC ICW1: edge, cascade, ICW4 follows */
        out     0x20, al
        mov     al, 0x20                        /* ICW2: IRQ0 → vector 32 */
        out     0x21, al
        mov     al, 0x04                        /* ICW3: slave on IRQ2 */
        out     0x21, al
        mov     al, 0x01                        /* ICW4: 8086 mode */
        out     0x21, al
        mov     al, 0xfe                        /* mask every IRQ but the timer */
        out     0x21, al
        mov     al, 0x34                        /* PIT channel 0, lo/hi byte, rate generator */
        out     0x43, al
        mov     al, 0x9c                        /* divisor 11932: about 100 Hz */
        out     0x40, al
        mov     al, 0x2e
        out     0x40, al
        sti
        hlt                                     /* woken by the one unmasked interrupt */
        cli
        mov     esi, offset msg_ok
        call    puts
        mov     al, 0x10
        out     DEBUG_EXIT_PORT, al
stop:
        hlt
        jmp     stop

/* puts: print the NUL-terminated string at esi on COM1; clobbers al, dx, esi.
   Its bytes mean the same in 32- and 64-bit mode, so both modes call it. */
puts:
        mov     dx, COM1_LSR
puts_wait:
        in      al, dx
        test    al, LSR_THRE
        jz      puts_wait
        lodsb
        test    al, al
        jz      puts_done
        mov     dx, COM1
        out     dx, al
        jmp     puts
puts_done:
        ret

bp_handler:
        push    rax
        push    rdx
        push    rsi
        mov     esi, offset msg_bp
        call    puts
        pop     rsi
        pop     rdx
        pop     rax
        iretq

irq_handler:
        push    rax
        push    rdx
        push    rsi
        mov     esi, offset msg_irq
        call    puts
        mov     al, 0x20                        /* end of interrupt to the PIC */
        out     0x20, al
        pop     rsi
        pop     rdx
        pop     rax
        iretq

        .p2align 3, 0                           /* zero fill: the byte table needs no NOP forms */
gdt:
        .quad   0                               /* null descriptor */
        .quad   0x00AF9A000000FFFF              /* 0x08: 64-bit code, present, ring 0 */
        .quad   0x00CF92000000FFFF              /* 0x10: data, present, writable */
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt
idt_desc:
        .word   idt_end - idt - 1
        .long   idt
msg_pm: .asciz  "ARDESIA-KVM-PROBE-PM\n"
msg_lm: .asciz  "ARDESIA-KVM-PROBE-LM\n"
msg_bp: .asciz  "ARDESIA-KVM-PROBE-BP\n"
msg_irq: .asciz "ARDESIA-KVM-PROBE-IRQ\n"
msg_ok: .asciz  "ARDESIA-KVM-PROBE-OK\n"

        /* 64-bit interrupt gate: the image is < 64 KiB at 0x100000, so offset bits 31..16 are 0x10 */
        .macro gate handler
        .word   \handler - _start
        .word   0x08                            /* code selector */
        .byte   0, 0x8E                         /* no IST; present, ring 0, interrupt gate */
        .word   LOAD_ADDR >> 16
        .long   0, 0                            /* offset bits 63..32; reserved */
        .endm
        .p2align 3, 0
idt:
        .fill   3 * 16, 1, 0                    /* vectors 0-2: unused */
        gate    bp_handler                      /* vector 3: #BP */
        .fill   28 * 16, 1, 0                   /* vectors 4-31: unused */
        gate    irq_handler                     /* vector 32: IRQ0, the PIT */
idt_end:
load_end:
