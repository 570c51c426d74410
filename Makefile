# Shoal's build. `make` builds the kernel (ELF64 for GRUB, elf32 copy for QEMU -kernel), the ISO and the
# netboot tree; `make test` runs every test; `make run` boots a 4-node cluster. See README.md.
.DEFAULT_GOAL := all
SHELL := /bin/bash
PYTHON := /usr/bin/python3

CC := gcc
LD := ld
OBJCOPY := objcopy
B := build
# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

KCFLAGS := -std=gnu11 -ffreestanding -fno-builtin -fno-pic -fno-pie -mno-red-zone -mcmodel=kernel \
	-mgeneral-regs-only -mno-sse -mno-mmx -fno-stack-protector -fno-omit-frame-pointer \
	-fno-asynchronous-unwind-tables -fno-strict-aliasing -O2 -g -Wall -Wextra -Werror \
	-Wno-unused-parameter -I. -MMD -MP
KASFLAGS := -I. -MMD -MP -Wa,--noexecstack
KLDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments -T linker.ld

KSRC := $(wildcard boot/*.S arch/x86/*.S arch/x86/*.c kernel/*.c drivers/*.c net/*.c)
KOBJ := $(patsubst %,$(B)/k/%.o,$(basename $(KSRC)))

DEPS_STAMP := $(B)/.deps-ok

.PHONY: all kernel iso netboot test unit run bench clean deps

all: kernel iso netboot

deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/deps
	@tools/deps
	@mkdir -p $(@D) && touch $@

kernel: $(B)/shoal.elf $(B)/shoal32.elf

$(B)/k/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(B)/k/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

# Over TFTP every byte costs boot time: the netboot tree gets the kernel without debug
# information (backtraces use the built-in symbol table). iPXE (boot.ipxe, the default) loads
# shoal32.elf and initrd.cpio itself; GRUB's tree (boot/grub/) loads shoal.elf and initrd.cpio.gz.

# Two link passes: the second embeds the symbol table of the first. The table sits after all code,
# so function addresses are the same in both; the check below makes sure of it.
$(B)/shoal.elf: $(KOBJ) linker.ld tools/ksyms
	@$(if $(Q),echo "  LD      $@")
	$(Q)tools/ksyms > $(B)/ksyms0.S
	$(Q)$(CC) $(KASFLAGS) -c $(B)/ksyms0.S -o $(B)/ksyms0.o
	$(Q)$(LD) $(KLDFLAGS) -o $(B)/shoal.pass1.elf $(KOBJ) $(B)/ksyms0.o
	$(Q)tools/ksyms $(B)/shoal.pass1.elf > $(B)/ksyms.S
	$(Q)$(CC) $(KASFLAGS) -c $(B)/ksyms.S -o $(B)/ksyms.o
	$(Q)$(LD) $(KLDFLAGS) -o $@.tmp $(KOBJ) $(B)/ksyms.o
	@cmp -s <(tools/ksyms $(B)/shoal.pass1.elf) <(tools/ksyms $@.tmp) || \
		{ echo "ksyms: function addresses moved between link passes" >&2; exit 1; }
	$(Q)mv $@.tmp $@

$(B)/shoal32.elf: $(B)/shoal.elf
	$(OBJCOPY) -O elf32-i386 $< $@

# The userland (busybox, Shoal's programs, /init) and the initrd: user/user.mk defines INITRD.
-include user/user.mk

iso: $(B)/shoal.iso
$(B)/shoal.iso: $(B)/shoal.elf boot/grub.cfg $(INITRD)
	@rm -rf $(B)/iso && mkdir -p $(B)/iso/boot/grub
	cp $(B)/shoal.elf $(B)/iso/boot/shoal.elf
	$(if $(INITRD),cp $(INITRD) $(B)/iso/boot/initrd.cpio)
	cp boot/grub.cfg $(B)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $@ $(B)/iso 2>$(B)/grub-mkrescue.log || { cat $(B)/grub-mkrescue.log; exit 1; }

netboot: $(B)/netboot/boot/shoal.elf
$(B)/netboot/boot/shoal.elf: $(B)/shoal.elf boot/grub-netboot.cfg boot/netboot.ipxe $(INITRD)
	@rm -rf $(B)/netboot && mkdir -p $(B)/netboot
	grub-mknetdir --net-directory=$(B)/netboot --subdir=boot/grub -d /usr/lib/grub/i386-pc >/dev/null
	$(if $(INITRD),cp $(INITRD) $(B)/netboot/boot/initrd.cpio)
	$(if $(INITRD),gzip -9n < $(INITRD) > $(B)/netboot/boot/initrd.cpio.gz)
	cp boot/grub-netboot.cfg $(B)/netboot/boot/grub/grub.cfg
	cp boot/netboot.ipxe $(B)/netboot/boot.ipxe
	$(OBJCOPY) --strip-debug -O elf32-i386 $(B)/shoal.elf $(B)/netboot/boot/shoal32.elf
	$(OBJCOPY) --strip-debug $(B)/shoal.elf $@

-include tests/unit/unit.mk
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tools/balsim/balsim.mk

test: all
	$(MAKE) unit
	$(PYTHON) -m pytest -v tests/

run: all
	tools/cluster up -n 4
	tools/cluster console 0; tools/cluster down

clean:
	rm -rf $(B)

-include $(KOBJ:.o=.d)
