/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim-uevent-listen: print the uevents a libudev monitor receives, one line
 * per event ("ACTION DEVPATH KEY=VALUE..."), then exit after --count events
 * or --timeout-ms without one (exit 1). Run inside a testbed, it shows what
 * the daemon's udev monitor would see. Prints "ready" once listening.
 */
#include <errno.h>
#include <getopt.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "count", required_argument, NULL, 'c' },
                { "timeout-ms", required_argument, NULL, 't' },
                { "subsystem", required_argument, NULL, 's' },
                {}
        };
        long count = 1, timeout_ms = 5000;
        const char *subsystem = NULL;
        struct udev *udev;
        struct udev_monitor *mon;
        int c, fd;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'c')
                        count = strtol(optarg, NULL, 10);
                else if (c == 't')
                        timeout_ms = strtol(optarg, NULL, 10);
                else if (c == 's')
                        subsystem = optarg;
                else
                        return 2;
        }

        udev = udev_new();
        if (!udev)
                return 1;
        mon = udev_monitor_new_from_netlink(udev, "udev");
        if (!mon) {
                fprintf(stderr, "sim-uevent-listen: cannot create monitor\n");
                return 1;
        }
        if (subsystem && udev_monitor_filter_add_match_subsystem_devtype(mon, subsystem, NULL) < 0)
                return 1;
        if (udev_monitor_enable_receiving(mon) < 0) {
                fprintf(stderr, "sim-uevent-listen: cannot listen\n");
                return 1;
        }
        fd = udev_monitor_get_fd(mon);
        printf("ready\n");
        fflush(stdout);

        while (count > 0) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                struct udev_device *d;
                struct udev_list_entry *e;
                int r = poll(&p, 1, (int)timeout_ms);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        fprintf(stderr, "sim-uevent-listen: timed out\n");
                        return 1;
                }
                d = udev_monitor_receive_device(mon);
                if (!d)
                        continue;
                printf("%s %s", udev_device_get_action(d), udev_device_get_devpath(d));
                udev_list_entry_foreach(e, udev_device_get_properties_list_entry(d))
                        printf(" %s=%s", udev_list_entry_get_name(e), udev_list_entry_get_value(e));
                printf("\n");
                fflush(stdout);
                udev_device_unref(d);
                count--;
        }
        udev_monitor_unref(mon);
        udev_unref(udev);
        return 0;
}
