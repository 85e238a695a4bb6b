/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "pci-lib.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct pci_lib *, pci_lib_close);

struct pci_lib *pci_lib_close(struct pci_lib *l)
{
        if (!l)
                return NULL;
        if (l->handle)
                (void)dlclose(l->handle);
        free(l);
        return NULL;
}

static int resolve(void *handle, const char *name, void **ret)
{
        /* The default version, the one linking against this libpci would have bound. */
        void *p = dlsym(handle, name);

        if (!p)
                return -ELIBACC;
        *ret = p;
        return 0;
}

int pci_lib_open(struct pci_lib **ret)
{
        _cleanup_(pci_lib_closep) struct pci_lib *l = calloc(1, sizeof(*l));
        int k;

        if (!l)
                return -ENOMEM;
        /* RTLD_LOCAL: nothing else may bind to it, so that dlclose() really unmaps it. */
        l->handle = dlopen(PCI_LIB_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!l->handle)
                return -ELIBACC;
        if ((k = resolve(l->handle, "pci_alloc", (void **)&l->alloc)) < 0 ||
            (k = resolve(l->handle, "pci_init", (void **)&l->init)) < 0 ||
            (k = resolve(l->handle, "pci_cleanup", (void **)&l->cleanup)) < 0 ||
            (k = resolve(l->handle, "pci_scan_bus", (void **)&l->scan_bus)) < 0 ||
            (k = resolve(l->handle, "pci_fill_info", (void **)&l->fill_info)) < 0 ||
            (k = resolve(l->handle, "pci_get_param", (void **)&l->get_param)) < 0 ||
            (k = resolve(l->handle, "pci_read_block", (void **)&l->read_block)) < 0)
                return k;
        *ret = TAKE_PTR(l);
        return 0;
}
