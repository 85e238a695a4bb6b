/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Builders of the register images the simulator serves as sysfs files. The
 * layout follows QEMU's cxl-rp (8086:7075: MSI at 0x60, AER at 0x100, ACS,
 * then DVSECs 3, 4, 7 and 8) so that what passes against the simulator is
 * what a QEMU guest and real root ports show, plus the Timeout & Isolation
 * capability QEMU never creates.
 */
#include <errno.h>
#include <string.h>

#include "sim-image.h"

/* Config space and MMIO registers are little-endian whatever the host is. */
static void put8(uint8_t *b, size_t off, uint8_t v) { b[off] = v; }
static void put16(uint8_t *b, size_t off, uint16_t v)
{
        b[off] = (uint8_t)v;
        b[off + 1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *b, size_t off, uint32_t v)
{
        put16(b, off, (uint16_t)v);
        put16(b, off + 2, (uint16_t)(v >> 16));
}

static void put_ext_cap(uint8_t *cfg, uint16_t off, uint16_t id, uint8_t version, uint16_t next)
{
        put32(cfg, off, (uint32_t)id | (uint32_t)version << 16 | (uint32_t)next << 20);
}

static void put_dvsec(uint8_t *cfg, uint16_t off, uint16_t dvsec_id, uint8_t revision, uint16_t length, uint16_t next)
{
        put_ext_cap(cfg, off, PCI_EXT_CAP_ID_DVSEC, 1, next);
        put32(cfg, off + PCI_DVSEC_HEADER1, CXL_DVSEC_VENDOR_ID | (uint32_t)revision << 16 | (uint32_t)length << 20);
        put16(cfg, off + PCI_DVSEC_HEADER2, dvsec_id);
}

void sim_rootport_options_default(struct sim_rootport_options *ret)
{
        *ret = (struct sim_rootport_options) {
                .ti = true,
                .mem_isolation = true,
                .cache_isolation = true,
                .interrupt = true,
                .interrupt_msgnum = 1,
                .errcor_signaling = true,
                .mem_timeout_ranges = 0x3,      /* ranges A and B: 50 us .. 210 ms */
                .bir = 0,
                .block_offset = 0,
                .serial = 0,
        };
}

uint64_t sim_component_bar_size(const struct sim_rootport_options *o)
{
        uint64_t need = o->block_offset + CXL_COMPONENT_BLOCK_SIZE, size = CXL_COMPONENT_BLOCK_SIZE;

        while (size < need)
                size <<= 1;
        return size;
}

/* Memory BAR flags as the kernel prints them in "resource" are the caller's; here only the register. */
static void put_mem_bar64(uint8_t *cfg, unsigned bar, uint64_t address)
{
        put32(cfg, PCI_CFG_BAR0 + 4u * bar, (uint32_t)(address & ~0xfull) | 0x4u /* 64-bit, non-prefetchable */);
        put32(cfg, PCI_CFG_BAR0 + 4u * (bar + 1u), (uint32_t)(address >> 32));
}

static void put_pcie_cap(uint8_t *cfg, uint16_t off, uint16_t next, unsigned type, uint8_t port_number)
{
        put8(cfg, off, PCI_CAP_ID_EXP);
        put8(cfg, off + 1, (uint8_t)next);
        /* version 2; a root port also has a slot */
        put16(cfg, off + PCI_EXP_FLAGS,
              (uint16_t)(2u | type << PCI_EXP_FLAGS_TYPE_SHIFT | (type == PCI_EXP_TYPE_ROOT_PORT ? 0x100u : 0u)));
        put32(cfg, off + 0x04, 0x00008001u | (type == PCI_EXP_TYPE_ENDPOINT ? 1u << 28 : 0u)); /* RBER, MPS 256, FLR on EPs */
        put16(cfg, off + 0x08, 0x202fu);        /* error reporting on, MPS 256, MRRS 512 */
        put32(cfg, off + 0x0c, 0x5u | 16u << 4 | 1u << 20 | (uint32_t)port_number << 24); /* 32 GT/s x16, DLLLA reporting */
        put16(cfg, off + 0x12, 0x5u | 16u << 4 | (type == PCI_EXP_TYPE_ROOT_PORT ? 1u << 13 : 0u)); /* link up */
        if (type == PCI_EXP_TYPE_ROOT_PORT)
                put32(cfg, off + 0x14, (uint32_t)port_number << 19);   /* physical slot number */
        put32(cfg, off + 0x24, 0x1fu);          /* completion timeout ranges A-D, disable supported */
        put32(cfg, off + 0x2c, 0x3eu);          /* 2.5 .. 32 GT/s */
}

static void put_aer(uint8_t *cfg, uint16_t off, uint16_t next, bool root)
{
        put_ext_cap(cfg, off, PCI_EXT_CAP_ID_AER, 2, next);
        put32(cfg, off + 0x0c, 0x00462030u);    /* uncorrectable severity: the spec's default */
        put32(cfg, off + 0x14, 0x00002000u);    /* advisory non-fatal masked */
        put32(cfg, off + 0x18, 0x000000a0u);    /* ECRC generation/check capable */
        if (root)
                put32(cfg, off + 0x2c, 0x7u);   /* root error command: report all */
}

static void put_dsn(uint8_t *cfg, uint16_t off, uint64_t serial)
{
        put_ext_cap(cfg, off, 0x0003 /* Device Serial Number */, 1, 0);
        put32(cfg, off + 4, (uint32_t)serial);
        put32(cfg, off + 8, (uint32_t)(serial >> 32));
}

int sim_rootport_config_build(const struct sim_rootport_options *o, uint64_t bar_address,
                              uint8_t primary_bus, uint8_t secondary_bus, uint64_t window_base, uint64_t window_size,
                              uint8_t ret_cfg[PCI_CFG_SIZE_PCIE])
{
        /* QEMU cxl-rp offsets: DVSECs follow AER (0x48) and ACS (0x8) */
        const uint16_t aer = PCI_EXT_CAP_START, acs = 0x148, ext = SIM_DVSEC_START, gpf = 0x178, flexbus = 0x188,
                       regloc = 0x1a8, dsn = 0x1d0;
        uint8_t cfg[PCI_CFG_SIZE_PCIE] = {};

        if (o->bir > 1)
                return -EINVAL;         /* a type 1 header has BAR0 and BAR1 only */
        if (o->block_offset & (CXL_COMPONENT_BLOCK_SIZE - 1))
                return -EINVAL;         /* the locator stores offset bits 31:16 only */
        if (o->bir == 1 && bar_address + sim_component_bar_size(o) > UINT32_MAX)
                return -EINVAL;         /* BAR1 of a bridge is a 32-bit BAR */
        if (o->interrupt && o->interrupt_msgnum > 1)
                return -EINVAL;         /* the MSI capability below offers 2 vectors */
        if (window_size == 0 || ((window_base | window_size) & 0xfffffu) || window_base + window_size > UINT32_MAX)
                return -EINVAL;         /* a bridge memory window is 32-bit with 1 MiB granularity */

        put16(cfg, 0x00, SIM_RP_VENDOR);
        put16(cfg, 0x02, SIM_RP_DEVICE);
        put16(cfg, 0x04, 0x0407);               /* I/O, memory, bus master, INTx disabled */
        put16(cfg, PCI_CFG_STATUS, PCI_CFG_STATUS_CAP_LIST);
        put32(cfg, 0x08, SIM_RP_CLASS << 8);    /* revision 0 */
        put8(cfg, PCI_CFG_HEADER_TYPE, 0x01);
        if (o->bir == 0)
                put_mem_bar64(cfg, 0, bar_address);
        else {
                /* BAR0: a 32-bit implementation-specific BAR right after the block's BAR1 */
                put32(cfg, PCI_CFG_BAR0, (uint32_t)(bar_address + sim_component_bar_size(o)));
                put32(cfg, PCI_CFG_BAR0 + 4, (uint32_t)bar_address);
        }
        put8(cfg, 0x18, primary_bus);
        put8(cfg, 0x19, secondary_bus);
        put8(cfg, 0x1a, secondary_bus);
        put16(cfg, 0x1c, 0x00f0);               /* I/O window closed */
        put16(cfg, 0x20, (uint16_t)(window_base >> 16));
        put16(cfg, 0x22, (uint16_t)((window_base + window_size - 1) >> 16 & 0xfff0u));
        put32(cfg, 0x24, 0x0001fff1);           /* 64-bit prefetchable window closed */
        put8(cfg, PCI_CFG_CAP_PTR, 0x40);
        put8(cfg, 0x3d, 0x01);                  /* INTA */
        put16(cfg, 0x3e, 0x0002);               /* SERR# enable */

        /* PM -> MSI -> PCIe */
        put8(cfg, 0x40, PCI_CAP_ID_PM);
        put8(cfg, 0x41, SIM_MSI_OFFSET);
        put16(cfg, 0x42, 0x0003);
        put16(cfg, 0x44, 0x0008);
        put8(cfg, SIM_MSI_OFFSET, PCI_CAP_ID_MSI);
        put8(cfg, SIM_MSI_OFFSET + 1, SIM_PCIE_CAP_OFFSET);
        put16(cfg, SIM_MSI_OFFSET + 2, 0x0093); /* 64-bit, 2 vectors capable and enabled, MSI on */
        put32(cfg, SIM_MSI_OFFSET + 4, 0xfee00000u);
        put16(cfg, SIM_MSI_OFFSET + 0xc, 0x4022);
        put_pcie_cap(cfg, SIM_PCIE_CAP_OFFSET, 0, PCI_EXP_TYPE_ROOT_PORT, secondary_bus);

        put_aer(cfg, aer, acs, true);
        put_ext_cap(cfg, acs, PCI_EXT_CAP_ID_ACS, 1, ext);
        put16(cfg, acs + 4, 0x001f);            /* SV TB RR CR UF */
        put16(cfg, acs + 6, 0x001d);

        put_dvsec(cfg, ext, CXL_DVSEC_PORT_EXTENSIONS, 0, 0x28, gpf);
        put_dvsec(cfg, gpf, CXL_DVSEC_PORT_GPF, 0, 0x10, flexbus);
        put16(cfg, gpf + 0xc, 0x0206);          /* GPF phase 1 timeout: 6 x 100 us */
        put16(cfg, gpf + 0xe, 0x0206);
        put_dvsec(cfg, flexbus, CXL_DVSEC_FLEXBUS_PORT, 2, 0x20, regloc);
        put16(cfg, flexbus + 0xa, 0x0007);      /* cache, io, mem capable */
        put16(cfg, flexbus + 0xc, 0x0006);      /* io, mem enabled */
        put16(cfg, flexbus + 0xe, 0x0006);      /* io, mem negotiated */

        /* Register Locator: 3 entries as on cxl-rp; only entry 0 (component registers) is used */
        put_dvsec(cfg, regloc, CXL_DVSEC_REG_LOCATOR, 0, CXL_REGLOC_ENTRIES_OFFSET + 3 * CXL_REGLOC_ENTRY_SIZE, dsn);
        put32(cfg, regloc + CXL_REGLOC_ENTRIES_OFFSET,
              o->bir | CXL_REGBLOCK_COMPONENT << 8 | ((uint32_t)o->block_offset & CXL_REGLOC_OFFSET_LO_MASK));
        put32(cfg, regloc + CXL_REGLOC_ENTRIES_OFFSET + 4, (uint32_t)(o->block_offset >> 32));

        put_dsn(cfg, dsn, o->serial);

        memcpy(ret_cfg, cfg, sizeof(cfg));
        return 0;
}

static void put_cap_header(uint8_t *block, unsigned slot, uint16_t id, uint8_t version, uint32_t offset)
{
        put32(block, CXL_CM_OFFSET + 4u * slot,
              (uint32_t)id | (uint32_t)version << 16 | (id == CXL_CM_CAP_NULL ? 0u : (offset - CXL_CM_OFFSET) << 20));
}

int sim_component_block_build(const struct sim_rootport_options *o, uint8_t ret_block[CXL_COMPONENT_BLOCK_SIZE])
{
        /* Fixed slots with NULL headers in between, as newer QEMU does: walkers must skip them. */
        const uint32_t extsec = 0x1260, snoop = 0x1a80;
        const unsigned array_size = 7;
        uint32_t ti_cap = 0;

        if (o->mem_timeout_ranges > 0xf || o->interrupt_msgnum > 0x1f)
                return -EINVAL;

        memset(ret_block, 0, CXL_COMPONENT_BLOCK_SIZE);
        put32(ret_block, CXL_CM_OFFSET, CXL_CM_CAP_ARRAY | 1u << 16 | 1u << 20 | array_size << 24);
        put_cap_header(ret_block, 1, CXL_CM_CAP_RAS, 2, SIM_RAS_OFFSET);
        put_cap_header(ret_block, 2, CXL_CM_CAP_LINK, 2, SIM_LINK_OFFSET);
        put_cap_header(ret_block, 3, CXL_CM_CAP_HDM, 1, SIM_HDM_OFFSET);
        put_cap_header(ret_block, 4, CXL_CM_CAP_NULL, 0, 0);
        if (o->ti)
                put_cap_header(ret_block, 5, CXL_CM_CAP_TIMEOUT_ISOLATION, 1, SIM_TI_OFFSET);
        else
                put_cap_header(ret_block, 5, CXL_CM_CAP_NULL, 0, 0);
        put_cap_header(ret_block, 6, CXL_CM_CAP_EXT_SECURITY, 1, extsec);
        put_cap_header(ret_block, 7, CXL_CM_CAP_SNOOP_FILTER, 1, snoop);

        /* RAS reset values as QEMU's: nothing logged, all UEs fatal, CEs masked */
        put32(ret_block, SIM_RAS_OFFSET + CXL_RAS_UE_SEVERITY, CXL_RAS_UE_VALID_MASK);
        put32(ret_block, SIM_RAS_OFFSET + CXL_RAS_CE_MASK, CXL_RAS_CE_VALID_MASK);
        put32(ret_block, SIM_RAS_OFFSET + CXL_RAS_CAP_CONTROL, 1u << 13);  /* poison enabled */

        /* Link: Link Layer Capability with retry buffer sizes, nothing else needed */
        put32(ret_block, SIM_LINK_OFFSET, 0x00000002u);

        /* HDM: 1 decoder, 1 target, interleave on A11:8; decoders enabled */
        put32(ret_block, SIM_HDM_OFFSET, 0x00000110u);
        put32(ret_block, SIM_HDM_OFFSET + 0x4, 0x00000002u);

        put32(ret_block, extsec, 0);
        put32(ret_block, snoop, 0);

        if (o->ti) {
                ti_cap = o->mem_timeout_ranges | CXL_TI_CAP_MEM_TIMEOUT;
                if (o->mem_isolation)
                        ti_cap |= CXL_TI_CAP_MEM_ISOLATION | CXL_TI_CAP_MEM_ISOLATION_LINKDOWN;
                if (o->cache_isolation)
                        ti_cap |= (uint32_t)o->mem_timeout_ranges << 8 | CXL_TI_CAP_CACHE_TIMEOUT |
                                  CXL_TI_CAP_CACHE_ISOLATION | CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN;
                if (o->errcor_signaling)
                        ti_cap |= CXL_TI_CAP_ERRCOR_SIGNALING;
                if (o->interrupt)
                        ti_cap |= CXL_TI_CAP_INTERRUPT | (uint32_t)o->interrupt_msgnum << 27;
                put32(ret_block, SIM_TI_OFFSET + CXL_TI_CAPABILITY, ti_cap);
                /* control and status reset to 0: isolation starts disabled */
        }
        return 0;
}

int sim_memdev_config_build(uint64_t bar_address, uint64_t serial, uint8_t ret_cfg[PCI_CFG_SIZE_PCIE])
{
        const uint16_t aer = PCI_EXT_CAP_START, device = 0x148, regloc = 0x184, dsn = 0x1a0;
        uint8_t cfg[PCI_CFG_SIZE_PCIE] = {};

        put16(cfg, 0x00, SIM_EP_VENDOR);
        put16(cfg, 0x02, SIM_EP_DEVICE);
        put16(cfg, 0x04, 0x0406);               /* memory, bus master, INTx disabled */
        put16(cfg, PCI_CFG_STATUS, PCI_CFG_STATUS_CAP_LIST);
        put32(cfg, 0x08, SIM_EP_CLASS << 8 | 0x01);
        put_mem_bar64(cfg, 0, bar_address);
        put16(cfg, 0x2c, SIM_EP_VENDOR);        /* subsystem ids */
        put8(cfg, PCI_CFG_CAP_PTR, 0x40);
        put8(cfg, 0x3d, 0x01);
        put_pcie_cap(cfg, 0x40, 0, PCI_EXP_TYPE_ENDPOINT, 0);

        put_aer(cfg, aer, device, false);
        put_dvsec(cfg, device, CXL_DVSEC_PCIE_DEVICE, 1, 0x3c, regloc);
        put16(cfg, device + 0xa, 0x0016);       /* io + mem capable, 1 HDM range */
        put16(cfg, device + 0xc, 0x0006);       /* io + mem enabled */
        put32(cfg, device + 0x1c, 0x00000003u); /* range 1: memory info valid, active */
        /* component registers at BAR0 + 0, memory device registers at BAR0 + 64 KiB */
        put_dvsec(cfg, regloc, CXL_DVSEC_REG_LOCATOR, 0, CXL_REGLOC_ENTRIES_OFFSET + 2 * CXL_REGLOC_ENTRY_SIZE, dsn);
        put32(cfg, regloc + CXL_REGLOC_ENTRIES_OFFSET, CXL_REGBLOCK_COMPONENT << 8);
        put32(cfg, regloc + CXL_REGLOC_ENTRIES_OFFSET + CXL_REGLOC_ENTRY_SIZE, CXL_REGBLOCK_MEMDEV << 8 | 0x00010000u);
        put_dsn(cfg, dsn, serial);

        memcpy(ret_cfg, cfg, sizeof(cfg));
        return 0;
}

int sim_irq_function_config_build(uint64_t bar_address, uint8_t irq_line, uint8_t ret_cfg[PCI_CFG_SIZE_PCI])
{
        uint8_t cfg[PCI_CFG_SIZE_PCI] = {};

        if (bar_address > UINT32_MAX || bar_address % 4096)
                return -EINVAL;
        put16(cfg, 0x00, SIM_IRQ_FN_VENDOR);
        put16(cfg, 0x02, SIM_IRQ_FN_DEVICE);
        put16(cfg, 0x04, 0x0002);               /* memory decoding; INTx enabled (command bit 10 clear) */
        put32(cfg, 0x08, SIM_IRQ_FN_CLASS << 8 | 0x10);
        put32(cfg, 0x10, (uint32_t)bar_address);        /* BAR0: 32-bit memory */
        put16(cfg, 0x2c, SIM_IRQ_FN_VENDOR);
        put8(cfg, 0x3c, irq_line);
        put8(cfg, 0x3d, 0x01);                  /* INTA# */
        memcpy(ret_cfg, cfg, sizeof(cfg));
        return 0;
}
