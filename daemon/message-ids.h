/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One fixed MESSAGE_ID per meaningful journal message, so operators can
 * filter (journalctl MESSAGE_ID=...) and the catalog can explain them. Generated
 * once; never change an id, add new ones instead.
 */
#pragma once

#define MESSAGE_ID_ISOLATION_DETECTED           "2c3855e947ed4fe68082e16d4d190fad"
#define MESSAGE_ID_PORT_WATCHABLE               "adfdd491932e426d8b39fe66cdedb954"
#define MESSAGE_ID_PORT_NOT_WATCHABLE           "0c30b0927e984bb3b47bfb42321f3a2c"
#define MESSAGE_ID_ACTION_STARTED               "51caf35a404646d09827d706bdf95345"
#define MESSAGE_ID_ACTION_FINISHED              "0ba49a0168364616baea108349de0a78"
#define MESSAGE_ID_ACTION_FAILED                "6363c28aa63f434997a756e0acf6a2b2"
#define MESSAGE_ID_ACTION_TIMED_OUT             "52f149a554c4495aada466a5e3eac224"
#define MESSAGE_ID_REBOOT_REQUESTED             "2a6eea4a569443569ebdd750aa39cea0"
#define MESSAGE_ID_CONFIG_RELOADED              "daad8496feb64b12b555c2e35bc8df41"
#define MESSAGE_ID_CONFIG_RELOAD_FAILED         "182479d69b6648aaa6e9474b84ae7d46"
#define MESSAGE_ID_PREVIOUS_BOOT_ISOLATED       "e9eed804c7624d1880fa15c62158bbdb"
#define MESSAGE_ID_RECORD_WRITE_FAILED          "7b846e790d314dd3a6715e9ad60becb0"
#define MESSAGE_ID_ARMING_DECISION              "4adee6c4938a45089bd672125421e358"
#define MESSAGE_ID_ARMED_PORT_UNSAFE            "09c8f721f2ff45978a517016f6494c09"
