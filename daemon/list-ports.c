/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The discovery report: what the daemon would watch and why not, with the
 * raw facts behind each verdict (DVSECs, register block, capability array,
 * T&I capability), so an operator or the QEMU test tier can check them
 * against lspci. Maps read-only and reads each port's T&I registers once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "cxl-regs.h"
#include "discover.h"
#include "list-ports.h"

static json_object *hex32(uint32_t v)
{
        char buf[16];

        snprintf(buf, sizeof(buf), "0x%08" PRIx32, v);
        return json_object_new_string(buf);
}

static json_object *hex64(uint64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_object_new_string(buf);
}

static bool port_has_component_block(const struct cxl_rootport *p)
{
        return p->reason == PORT_WATCHABLE || p->reason > PORT_NO_COMPONENT_BLOCK;
}

static bool port_has_caparray(const struct cxl_rootport *p)
{
        return p->reason == PORT_WATCHABLE || p->reason == PORT_NO_TI_CAPABILITY || p->reason == PORT_NO_MEM_ISOLATION;
}

static json_object *ti_capability_json(const struct cxl_ti_capability *c)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "raw", hex32(c->raw));
        json_object_object_add(o, "mem_timeout_ranges", json_object_new_int(c->mem_timeout_ranges));
        json_object_object_add(o, "mem_timeout", json_object_new_boolean(c->mem_timeout));
        json_object_object_add(o, "cache_timeout_ranges", json_object_new_int(c->cache_timeout_ranges));
        json_object_object_add(o, "cache_timeout", json_object_new_boolean(c->cache_timeout));
        json_object_object_add(o, "mem_isolation", json_object_new_boolean(c->mem_isolation));
        json_object_object_add(o, "mem_isolation_link_down", json_object_new_boolean(c->mem_isolation_linkdown));
        json_object_object_add(o, "cache_isolation", json_object_new_boolean(c->cache_isolation));
        json_object_object_add(o, "cache_isolation_link_down", json_object_new_boolean(c->cache_isolation_linkdown));
        json_object_object_add(o, "errcor_signaling", json_object_new_boolean(c->errcor_signaling));
        json_object_object_add(o, "interrupt", json_object_new_boolean(c->interrupt));
        json_object_object_add(o, "interrupt_message_number", json_object_new_int(c->interrupt_msgnum));
        return o;
}

/* A fresh discovery's ports all carry their decode; an empty one stands in should one not. */
static const struct cxl_rootport_decode *port_decode(const struct cxl_rootport *p)
{
        static const struct cxl_rootport_decode none;

        return p->decode ?: &none;
}

static json_object *port_json(const struct cxl_rootport *p)
{
        const struct cxl_rootport_decode *dec = port_decode(p);
        json_object *o = json_object_new_object(), *dvsecs = json_object_new_array();
        char vd[16];

        json_object_object_add(o, "bdf", json_object_new_string(p->bdf));
        json_object_object_add(o, "host_bridge", json_object_new_string(p->host_bridge));
        json_object_object_add(o, "sysfs_path", json_object_new_string(p->sysfs_path));
        snprintf(vd, sizeof(vd), "%04x:%04x", p->vendor, p->device);
        json_object_object_add(o, "vendor_device", json_object_new_string(vd));
        json_object_object_add(o, "serial", hex64(p->serial));
        json_object_object_add(o, "watchable", json_object_new_boolean(p->reason == PORT_WATCHABLE));
        json_object_object_add(o, "reason", json_object_new_string(port_reason_to_string(p->reason) ?: "unknown"));
        json_object_object_add(o, "description", json_object_new_string(port_reason_description(p->reason) ?: ""));
        json_object_object_add(o, "hint", json_object_new_string(port_reason_hint(p->reason) ?: ""));
        json_object_object_add(o, "error", json_object_new_int(p->error));
        if (p->error)
                json_object_object_add(o, "error_message", json_object_new_string(strerror(abs(p->error))));

        for (size_t i = 0; i < dec->dvsecs.n; i++) {
                json_object *d = json_object_new_object();
                json_object_object_add(d, "id", json_object_new_int(dec->dvsecs.dvsec[i].id));
                json_object_object_add(d, "name",
                                       json_object_new_string(cxl_dvsec_id_to_string(dec->dvsecs.dvsec[i].id) ?: "unknown"));
                json_object_object_add(d, "offset", hex32(dec->dvsecs.dvsec[i].offset));
                json_object_object_add(d, "revision", json_object_new_int(dec->dvsecs.dvsec[i].revision));
                json_object_object_add(d, "length", json_object_new_int(dec->dvsecs.dvsec[i].length));
                json_object_array_add(dvsecs, d);
        }
        json_object_object_add(o, "dvsecs", dvsecs);

        if (port_has_component_block(p)) {
                json_object *b = json_object_new_object();
                json_object_object_add(b, "bir", json_object_new_int(p->component.bir));
                json_object_object_add(b, "offset", hex64(p->component.offset));
                json_object_object_add(b, "block_id", json_object_new_int(p->component.block_id));
                json_object_object_add(o, "register_block", b);
        }

        if (port_has_caparray(p)) {
                json_object *caps = json_object_new_array();
                for (size_t i = 0; i < dec->caps.n; i++) {
                        json_object *c = json_object_new_object();
                        json_object_object_add(c, "id", json_object_new_int(dec->caps.cap[i].id));
                        json_object_object_add(c, "name",
                                               json_object_new_string(cxl_cap_id_to_string(dec->caps.cap[i].id) ?: "unknown"));
                        json_object_object_add(c, "version", json_object_new_int(dec->caps.cap[i].version));
                        json_object_object_add(c, "offset", hex32(dec->caps.cap[i].offset));
                        json_object_array_add(caps, c);
                }
                json_object_object_add(o, "capabilities", caps);
                json_object_object_add(o, "null_capabilities", json_object_new_int((int)dec->caps.n_null));
        }
        if (p->ti_offset) {
                json_object_object_add(o, "ti_offset", hex32(p->ti_offset));
                json_object_object_add(o, "ti_capability", ti_capability_json(&p->ti_cap));
        }
        if (p->ras_offset)
                json_object_object_add(o, "ras_offset", hex32(p->ras_offset));
        if (p->win && p->ti_offset) {
                uint32_t control, status;
                if (regwin_read32(p->win, p->ti_offset + CXL_TI_CONTROL, &control) >= 0)
                        json_object_object_add(o, "ti_control", hex32(control));
                if (regwin_read32(p->win, p->ti_offset + CXL_TI_STATUS, &status) >= 0) {
                        json_object_object_add(o, "ti_status", hex32(status));
                        json_object_object_add(o, "isolation",
                                               json_object_new_string(cxl_isolation_kind_to_string(
                                                       cxl_ti_status_kind(status)) ?: "none"));
                }
        }
        return o;
}

static void port_text(FILE *out, const struct cxl_rootport *p)
{
        const struct cxl_rootport_decode *dec = port_decode(p);

        fprintf(out, "%s  host bridge %s  %04x:%04x\n", p->bdf, p->host_bridge, p->vendor, p->device);
        if (p->reason == PORT_WATCHABLE)
                fprintf(out, "  watchable\n");
        else
                fprintf(out, "  not watchable: %s (%s)%s%s\n", port_reason_description(p->reason),
                        port_reason_hint(p->reason), p->error ? ": " : "", p->error ? strerror(abs(p->error)) : "");
        fprintf(out, "  reason: %s\n", port_reason_to_string(p->reason));
        for (size_t i = 0; i < dec->dvsecs.n; i++)
                fprintf(out, "  DVSEC %u (%s) at 0x%03x, rev %u, length %u\n", dec->dvsecs.dvsec[i].id,
                        cxl_dvsec_id_to_string(dec->dvsecs.dvsec[i].id) ?: "unknown", dec->dvsecs.dvsec[i].offset,
                        dec->dvsecs.dvsec[i].revision, dec->dvsecs.dvsec[i].length);
        if (port_has_component_block(p))
                fprintf(out, "  component registers: BAR %u + 0x%" PRIx64 "\n", p->component.bir, p->component.offset);
        if (port_has_caparray(p))
                for (size_t i = 0; i < dec->caps.n; i++)
                        fprintf(out, "  capability 0x%x (%s) v%u at 0x%04x\n", dec->caps.cap[i].id,
                                cxl_cap_id_to_string(dec->caps.cap[i].id) ?: "unknown", dec->caps.cap[i].version,
                                dec->caps.cap[i].offset);
        if (p->ti_offset)
                fprintf(out, "  T&I capability 0x%08" PRIx32 ": mem isolation %s, link down %s, mem timeout %s "
                        "(ranges 0x%x), cache isolation %s, interrupt %s, ERR_COR %s\n",
                        p->ti_cap.raw, p->ti_cap.mem_isolation ? "yes" : "no",
                        p->ti_cap.mem_isolation_linkdown ? "yes" : "no", p->ti_cap.mem_timeout ? "yes" : "no",
                        p->ti_cap.mem_timeout_ranges, p->ti_cap.cache_isolation ? "yes" : "no",
                        p->ti_cap.interrupt ? "yes" : "no", p->ti_cap.errcor_signaling ? "yes" : "no");
        if (p->win && p->ti_offset) {
                uint32_t status;
                char text[128];
                if (regwin_read32(p->win, p->ti_offset + CXL_TI_STATUS, &status) >= 0)
                        fprintf(out, "  T&I status %s\n", cxl_ti_status_to_string(status, text, sizeof(text)));
        }
}

int list_ports(FILE *out, bool json)
{
        struct discover_options opts = { .writable = false };
        struct cxl_rootport *ports = NULL;
        size_t n = 0;
        int k;

        k = cxl_discover_rootports(&opts, &ports, &n);
        if (k < 0)
                return k;

        if (json) {
                json_object *root = json_object_new_object(), *arr = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(arr, port_json(&ports[i]));
                json_object_object_add(root, "ports", arr);
                fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(root);
        } else {
                if (n == 0)
                        fprintf(out, "No CXL root ports found.\n");
                for (size_t i = 0; i < n; i++)
                        port_text(out, &ports[i]);
        }
        cxl_rootports_free(ports, n);
        return fflush(out) == 0 ? 0 : -EIO;
}
