/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Register layout constants: PCIe config space, CXL DVSECs, the CXL component
 * capability array, Timeout & Isolation (CXL r3.1/r3.2 §8.2.4.24) and RAS
 * (§8.2.4.17). Single source of truth for the decoders, the register model and
 * the simulator. Sources: ../shared/docs/cxl-registers.md.
 */
#pragma once

/* --- PCIe configuration space --- */
#define PCI_CFG_SIZE_LEGACY         64u     /* what an unprivileged sysfs read returns */
#define PCI_CFG_SIZE_PCI            256u
#define PCI_CFG_SIZE_PCIE           4096u
#define PCI_CFG_STATUS              0x06u
#define PCI_CFG_STATUS_CAP_LIST     0x10u
#define PCI_CFG_HEADER_TYPE         0x0eu
#define PCI_CFG_BAR0                0x10u
#define PCI_CFG_CAP_PTR             0x34u
#define PCI_CAP_ID_PM               0x01u
#define PCI_CAP_ID_MSI              0x05u
#define PCI_CAP_ID_EXP              0x10u
#define PCI_CAP_ID_MSIX             0x11u
#define PCI_EXP_FLAGS               0x02u   /* offset in the PCIe capability */
#define PCI_EXP_FLAGS_TYPE_SHIFT    4
#define PCI_EXP_FLAGS_TYPE_MASK     0xf0u
#define PCI_EXP_TYPE_ENDPOINT       0x0u
#define PCI_EXP_TYPE_ROOT_PORT      0x4u
#define PCI_EXP_TYPE_UPSTREAM       0x5u
#define PCI_EXP_TYPE_DOWNSTREAM     0x6u
#define PCI_EXT_CAP_START           0x100u
#define PCI_EXT_CAP_ID_AER          0x0001u
#define PCI_EXT_CAP_ID_ACS          0x000du
#define PCI_EXT_CAP_ID_DVSEC        0x0023u
#define PCI_EXT_CAP_ID(h)           ((h) & 0xffffu)
#define PCI_EXT_CAP_VER(h)          (((h) >> 16) & 0xfu)
#define PCI_EXT_CAP_NEXT(h)         (((h) >> 20) & 0xffcu)

/* --- DVSEC framing --- */
#define PCI_DVSEC_HEADER1           0x4u
#define PCI_DVSEC_HEADER2           0x8u
#define PCI_DVSEC_VENDOR(h1)        ((h1) & 0xffffu)
#define PCI_DVSEC_REV(h1)           (((h1) >> 16) & 0xfu)
#define PCI_DVSEC_LEN(h1)           (((h1) >> 20) & 0xfffu)
#define PCI_DVSEC_ID(h2)            ((h2) & 0xffffu)

#define CXL_DVSEC_VENDOR_ID         0x1e98u
#define CXL_DVSEC_PCIE_DEVICE       0u
#define CXL_DVSEC_FUNCTION_MAP      2u
#define CXL_DVSEC_PORT_EXTENSIONS   3u
#define CXL_DVSEC_PORT_GPF          4u
#define CXL_DVSEC_DEVICE_GPF        5u
#define CXL_DVSEC_FLEXBUS_PORT      7u
#define CXL_DVSEC_REG_LOCATOR       8u
#define CXL_DVSEC_MLD               9u
#define CXL_DVSEC_TEST              0xau

/* Register Locator DVSEC (ID 8) */
#define CXL_REGLOC_ENTRIES_OFFSET   0xcu
#define CXL_REGLOC_ENTRY_SIZE       8u
#define CXL_REGLOC_BIR_MASK         0x7u
#define CXL_REGLOC_BLOCK_ID(lo)     (((lo) >> 8) & 0xffu)
#define CXL_REGLOC_OFFSET_LO_MASK   0xffff0000u
#define CXL_REGBLOCK_EMPTY          0u
#define CXL_REGBLOCK_COMPONENT      1u
#define CXL_REGBLOCK_VIRT_ACL       2u
#define CXL_REGBLOCK_MEMDEV         3u
#define CXL_REGBLOCK_CPMU           4u

/* --- Component register block --- */
#define CXL_COMPONENT_BLOCK_SIZE    0x10000u
#define CXL_CM_OFFSET               0x1000u     /* capability array of the CXL.cache/mem range */
#define CXL_CM_CAP_ID(h)            ((h) & 0xffffu)
#define CXL_CM_CAP_VERSION(h)       (((h) >> 16) & 0xfu)
#define CXL_CM_CACHEMEM_VERSION(h)  (((h) >> 20) & 0xfu)
#define CXL_CM_ARRAY_SIZE(h)        (((h) >> 24) & 0xffu)
#define CXL_CM_CAP_POINTER(h)       (((h) >> 20) & 0xfffu)

#define CXL_CM_CAP_NULL             0x0u
#define CXL_CM_CAP_ARRAY            0x1u
#define CXL_CM_CAP_RAS              0x2u
#define CXL_CM_CAP_SECURITY         0x3u
#define CXL_CM_CAP_LINK             0x4u
#define CXL_CM_CAP_HDM              0x5u
#define CXL_CM_CAP_EXT_SECURITY     0x6u
#define CXL_CM_CAP_IDE              0x7u
#define CXL_CM_CAP_SNOOP_FILTER     0x8u
#define CXL_CM_CAP_TIMEOUT_ISOLATION 0x9u
#define CXL_CM_CAP_EXTENDED_RANGE   0xau
#define CXL_CM_CAP_BI_ROUTE_TABLE   0xbu
#define CXL_CM_CAP_BI_DECODER       0xcu
#define CXL_CM_CAP_CACHE_ID_RT      0xdu
#define CXL_CM_CAP_CACHE_ID_DECODER 0xeu
#define CXL_CM_CAP_EXT_HDM          0xfu
#define CXL_CM_CAP_EXT_METADATA     0x10u

/* --- Timeout & Isolation capability structure (ID 9) --- */
#define CXL_TI_CAPABILITY           0x0u
#define CXL_TI_CONTROL              0x8u
#define CXL_TI_STATUS               0xcu
#define CXL_TI_LENGTH               0x10u

/* Capability (RO) */
#define CXL_TI_CAP_MEM_TIMEOUT_RANGES   0x0000000fu
#define CXL_TI_CAP_MEM_TIMEOUT          (1u << 4)
#define CXL_TI_CAP_CACHE_TIMEOUT_RANGES 0x00000f00u
#define CXL_TI_CAP_CACHE_TIMEOUT        (1u << 12)
#define CXL_TI_CAP_MEM_ISOLATION        (1u << 16)
#define CXL_TI_CAP_MEM_ISOLATION_LINKDOWN (1u << 17)
#define CXL_TI_CAP_CACHE_ISOLATION      (1u << 18)
#define CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN (1u << 19)
#define CXL_TI_CAP_ERRCOR_SIGNALING     (1u << 25)
#define CXL_TI_CAP_INTERRUPT            (1u << 26)
#define CXL_TI_CAP_INTERRUPT_MSGNUM(c)  (((c) >> 27) & 0x1fu)

/* Control (RW where the capability bit is set; reserved bits preserved) */
#define CXL_TI_CTL_MEM_TIMEOUT_VALUE    0x0000000fu
#define CXL_TI_CTL_MEM_TIMEOUT_ENABLE   (1u << 4)
#define CXL_TI_CTL_CACHE_TIMEOUT_VALUE  0x00000f00u
#define CXL_TI_CTL_CACHE_TIMEOUT_ENABLE (1u << 12)
#define CXL_TI_CTL_MEM_ISOLATION_ENABLE (1u << 16)
#define CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE (1u << 17)
#define CXL_TI_CTL_CACHE_ISOLATION_ENABLE (1u << 18)
#define CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE (1u << 19)
#define CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE (1u << 25)
#define CXL_TI_CTL_INTERRUPT_ENABLE     (1u << 26)
#define CXL_TI_CTL_DEFINED_MASK         0x060f1f1fu

/* Status: bits 0,4,8,9,12,13 RW1CS; 14 RO; the rest RsvdZ */
#define CXL_TI_STS_MEM_TIMEOUT          (1u << 0)
#define CXL_TI_STS_CACHE_TIMEOUT        (1u << 4)
#define CXL_TI_STS_MEM_ISOLATION        (1u << 8)
#define CXL_TI_STS_MEM_ISOLATION_LINKDOWN (1u << 9)
#define CXL_TI_STS_CACHE_ISOLATION      (1u << 12)
#define CXL_TI_STS_CACHE_ISOLATION_LINKDOWN (1u << 13)
#define CXL_TI_STS_RP_BUSY              (1u << 14)
#define CXL_TI_STS_RW1C_MASK            0x00003311u
#define CXL_TI_STS_ISOLATED_MASK        (CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_CACHE_ISOLATION)

/* --- RAS capability structure (ID 2) --- */
#define CXL_RAS_UE_STATUS           0x00u
#define CXL_RAS_UE_MASK             0x04u
#define CXL_RAS_UE_SEVERITY         0x08u
#define CXL_RAS_CE_STATUS           0x0cu
#define CXL_RAS_CE_MASK             0x10u
#define CXL_RAS_CAP_CONTROL         0x14u
#define CXL_RAS_HEADER_LOG          0x18u
#define CXL_RAS_HEADER_LOG_DWORDS   16u
#define CXL_RAS_LENGTH              0x58u
#define CXL_RAS_UE_VALID_MASK       0x0001cfffu
#define CXL_RAS_CE_VALID_MASK       0x0000007fu
#define CXL_RAS_FIRST_ERROR_PTR(v)  ((v) & 0x3fu)

/* All-ones from a register means the device is gone, not that every bit is set. */
#define REG_ALL_ONES                0xffffffffu
