/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libpci, loaded with dlopen() for a discovery and unloaded after it. Only
 * discovery reads config space; a daemon that then idles for months does not
 * keep libpci and its zlib mapped (about 150 KiB of RSS on Debian 12).
 */
#pragma once

#include <pci/pci.h>

struct pci_lib {
        void *handle;
        __typeof__(pci_alloc) *alloc;
        __typeof__(pci_init) *init;
        __typeof__(pci_cleanup) *cleanup;
        __typeof__(pci_scan_bus) *scan_bus;
        __typeof__(pci_fill_info) *fill_info;
        __typeof__(pci_get_param) *get_param;
        __typeof__(pci_read_block) *read_block;
};

/* The soname the build's headers belong to. */
#define PCI_LIB_SONAME "libpci.so.3"

/* -ELIBACC when libpci cannot be loaded or lacks a symbol (dlerror() has the detail). */
int pci_lib_open(struct pci_lib **ret);
struct pci_lib *pci_lib_close(struct pci_lib *l);
