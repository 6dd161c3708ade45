/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * guest.S - minimal memory-dirtying guest for migtrace tests and demos.
 *
 * The image is a 64 KiB flat x86 firmware blob meant for QEMU's "-bios".
 * QEMU maps it twice: at 4 GiB - 64 KiB (where the CPU fetches the reset
 * vector, 0xFFFFFFF0) and at 0xF0000 (the legacy "isa-bios" window).  The
 * reset vector far-jumps into the low copy (segment 0xF000), so every
 * code/data offset below is both an image offset and an offset in CS.
 *
 * What it does:
 *   1. enables A20 (port 0x92), loads a GDT with a flat 4 GiB data
 *      descriptor, sets CR0.PE, loads DS/ES/FS/GS with it and clears PE
 *      again ("unreal mode"): the segment caches keep the 4 GiB limit, so
 *      32-bit addresses reach all of physical memory while we stay in
 *      (emulated) real mode with base 0;
 *   2. loops forever: for each 4 KiB page in [START, START + PAGES*4096)
 *      it writes one constant non-zero byte (0xa5) at the start of
 *      the page, then spins DELAY iterations; after each full pass it
 *      increments the 32-bit pass counter at guest-physical PASS_ADDR
 *      (0x500) and writes its low byte to I/O port 0xE9, which QEMU's
 *      "-debugcon file:PATH" appends to PATH - so the host can count
 *      passes as the file size without talking to the guest.
 *
 * Configuration block (patched by tools/guest/mkguest, no reassembly):
 *
 *   image offset  size  field
 *   0x0000        8     magic "MTGUEST1"
 *   0x0008        4     start  (u32 LE, guest-physical byte address;
 *                              default 0x01000000 = 16 MiB)
 *   0x000C        4     pages  (u32 LE, number of 4 KiB pages; default 1024;
 *                              0 is treated as 1)
 *   0x0010        4     delay  (u32 LE, busy-loop iterations between two
 *                              writes; default 16)
 *   0x0014        12    reserved, zero
 *
 * Under KVM without VMX/SVM (e.g. the kvm_pvm module) real-mode code is run
 * by KVM's instruction emulator, so each emulated write is one
 * kvm_dirty_ring_push event while dirty logging is on.  Writing densely can
 * overflow the per-vCPU dirty ring before KVM gets a chance to exit to
 * userspace; keep DELAY >= ~8 with a 4096-entry ring.
 */

#define CFG_OFFSET	0x0000		/* documented: keep in sync with mkguest */
#define PASS_ADDR	0x500		/* guest-physical pass counter (u32) */
#define DEBUGCON_PORT	0xe9
#define STACK_TOP	0x7000		/* real-mode stack, in low RAM */
#define IMAGE_SIZE	0x10000		/* 64 KiB */
#define IMAGE_SEG	0xf000		/* low copy at 0xF0000 */
#define IMAGE_BASE	0xf0000

	.code16
	.section .text, "ax"
	.globl	_start

/* ------------------------------------------------------------------ */
/* Configuration block: MUST stay at image offset CFG_OFFSET.          */
/* ------------------------------------------------------------------ */
	.org	CFG_OFFSET
cfg:
	.ascii	"MTGUEST1"
cfg_start:
	.long	0x01000000		/* 16 MiB */
cfg_pages:
	.long	1024
cfg_delay:
	.long	16
	.fill	12, 1, 0		/* reserved */
cfg_end:

/* ------------------------------------------------------------------ */
/* GDT: null descriptor + flat 4 GiB read/write data segment (0x08).   */
/* ------------------------------------------------------------------ */
	.balign	8
gdt:
	.quad	0x0000000000000000	/* 0x00: null */
	/*
	 * 0x08: base 0, limit 4 GiB (G=1), data read/write, ACCESSED bit
	 * preset (type 0x93): otherwise loading the selector makes the CPU
	 * set it, i.e. write to the GDT, which lives in ROM - KVM then loops
	 * forever on that write.
	 */
	.quad	0x00cf93000000ffff
gdt_end:

gdt_desc:
	.word	gdt_end - gdt - 1
	.long	IMAGE_BASE + gdt	/* linear address of the low copy */

/* ------------------------------------------------------------------ */
/* Entry (reached from the reset vector with CS = 0xF000).             */
/* ------------------------------------------------------------------ */
_start:
	cli
	cld

	xorw	%ax, %ax
	movw	%ax, %ss
	movw	$STACK_TOP, %sp

	/* Fast A20 enable (harmless when A20 is already on, as under KVM). */
	inb	$0x92, %al
	orb	$0x02, %al
	andb	$0xfe, %al			/* never pulse the reset bit */
	outb	%al, $0x92

	/* Enter unreal mode: PE on, load flat data selectors, PE off. */
	lgdtl	%cs:gdt_desc
	movl	%cr0, %eax
	orb	$0x01, %al
	movl	%eax, %cr0
	jmp	1f				/* serialize after CR0 write */
1:
	movw	$0x08, %bx
	movw	%bx, %ds
	movw	%bx, %es
	movw	%bx, %fs
	movw	%bx, %gs
	andb	$0xfe, %al
	movl	%eax, %cr0
	jmp	2f
2:
	/* Real-mode bases 0; the cached 4 GiB limits survive. */
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs

	/* Read the configuration (through CS: the low ROM copy). */
	movl	%cs:cfg_start, %esi		/* esi = start address */
	movl	%cs:cfg_pages, %ecx		/* ecx = pages per pass */
	movl	%cs:cfg_delay, %ebp		/* ebp = delay iterations */
	testl	%ecx, %ecx
	jnz	3f
	incl	%ecx				/* pages == 0 -> 1 */
3:
	xorl	%ebx, %ebx			/* ebx = pass counter */
	movl	%ebx, (PASS_ADDR)

/* ------------------------------------------------------------------ */
/* Main loop.                                                          */
/* ------------------------------------------------------------------ */
pass_loop:
	movl	%esi, %edi			/* edi = current page */
	movl	%ecx, %edx			/* edx = pages left in pass */
page_loop:
	/* A constant non-zero byte: the page stops being a zero page (which QEMU
	 * would send as a tiny record) from the first write on. */
	addr32 movb $0xa5, (%edi)		/* dirty the page */
	addl	$4096, %edi
	movl	%ebp, %eax			/* busy delay, DELAY iterations */
	testl	%eax, %eax
	jz	5f
4:
	decl	%eax
	jnz	4b
5:
	decl	%edx
	jnz	page_loop

	incl	%ebx				/* pass done */
	movl	%ebx, (PASS_ADDR)
	movb	%bl, %al
	outb	%al, $DEBUGCON_PORT		/* one debugcon byte per pass */
	jmp	pass_loop

/* ------------------------------------------------------------------ */
/* Reset vector: image offset 0xFFF0 == physical 0xFFFFFFF0.           */
/* ------------------------------------------------------------------ */
	.org	IMAGE_SIZE - 16, 0xff
reset_vector:
	ljmp	$IMAGE_SEG, $_start
	.org	IMAGE_SIZE, 0xff
