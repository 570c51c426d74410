# user/user.mk: the initrd, included by the root Makefile.  `make initrd` builds $(B)/initrd.cpio from
#   - Debian's busybox-static, fetched with `apt-get download` into $(B)/dl/ (only when missing;
#     never committed) and unpacked with `dpkg -x`;
#   - Shoal's programs user/*.c (-> /usr/bin) and test programs user/tests/*.c
#     (-> /usr/libexec/shoal-tests), built with musl-gcc -static;
#   - user/init (-> /init), user/etc/* (-> /etc), and `make EXTRA=DIR`: DIR's tree at the same paths.
# user/mkrootfs assembles $(B)/rootfs/, tools/mkinitrd packs it.  Any changed input rebuilds it.

INITRD := $(B)/initrd.cpio
ROOTFS := $(B)/rootfs

U_CC := musl-gcc
U_CFLAGS := -static -O2 -Wall -Werror -std=gnu11
U_OUT := $(B)/user
U_DL := $(B)/dl
U_BUSYBOX_DEB := $(U_DL)/busybox-static.deb
U_BUSYBOX := $(B)/busybox/bin/busybox

U_TOOLS := $(patsubst user/%.c,$(U_OUT)/bin/%,$(wildcard user/*.c))
U_TESTS := $(patsubst user/tests/%.c,$(U_OUT)/tests/%,$(wildcard user/tests/*.c))
U_SOURCES := user/mkrootfs user/init user/tests/run-all $(wildcard user/etc/*) user/user.mk

# EXTRA=DIR: its path is remembered in a file that changes only when EXTRA does, and every file
# under DIR is a prerequisite, so that adding, changing or removing one rebuilds the image.
EXTRA ?=
U_EXTRA := $(if $(strip $(EXTRA)),$(abspath $(EXTRA)))
ifneq ($(U_EXTRA),)
ifeq ($(wildcard $(U_EXTRA)/.),)
$(error EXTRA=$(EXTRA) is not a directory)
endif
endif
U_EXTRA_STAMP := $(U_OUT)/extra.path
U_EXTRA_FILES := $(if $(U_EXTRA),$(shell find '$(U_EXTRA)' 2>/dev/null))
$(shell mkdir -p '$(U_OUT)' && { echo '$(U_EXTRA)' | cmp -s - '$(U_EXTRA_STAMP)' || \
	echo '$(U_EXTRA)' > '$(U_EXTRA_STAMP)'; })

.PHONY: initrd user-tests
initrd: $(INITRD)
user-tests: $(U_TESTS)

$(INITRD): $(B)/rootfs.stamp tools/mkinitrd
	@$(if $(Q),echo "  CPIO    $@")
	$(Q)tools/mkinitrd $(ROOTFS) $@

$(B)/rootfs.stamp: $(U_BUSYBOX) $(U_TOOLS) $(U_TESTS) $(U_SOURCES) $(U_EXTRA_STAMP) $(U_EXTRA_FILES)
	@$(if $(Q),echo "  ROOTFS  $(ROOTFS)$(if $(U_EXTRA), + $(U_EXTRA))")
	$(Q)user/mkrootfs $(ROOTFS) $(U_BUSYBOX) $(U_OUT) $(U_EXTRA)
	@touch $@

# apt-get download needs the package lists: on a fresh machine they are empty, so update once
# and try again.  The .deb is cached under its fixed name; `make clean` removes it.
$(U_BUSYBOX_DEB): | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  APT     busybox-static")
	$(Q)cd $(@D) && rm -f busybox-static_*.deb && \
	{ apt-get download -q -o APT::Sandbox::User=root busybox-static >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get download -q -o APT::Sandbox::User=root busybox-static; }; } && \
	mv busybox-static_*.deb $(@F)

$(U_BUSYBOX): $(U_BUSYBOX_DEB)
	@$(if $(Q),echo "  DPKG-X  $<")
	$(Q)rm -rf $(B)/busybox && dpkg -x $< $(B)/busybox
	$(Q)test -x $@ || { echo "$< has no bin/busybox" >&2; exit 1; }
	@touch $@

$(U_TOOLS): $(U_OUT)/bin/%: user/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(U_CC) $(U_CFLAGS) -MMD -MP -MF $@.d -o $@ $<

$(U_TESTS): $(U_OUT)/tests/%: user/tests/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(U_CC) $(U_CFLAGS) -MMD -MP -MF $@.d -o $@ $<

-include $(U_TOOLS:=.d) $(U_TESTS:=.d)
