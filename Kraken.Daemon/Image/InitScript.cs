// The image's /init: a busybox shell script that prepares the machine and runs the daemon, and what happens when it stops.
using System.Text;

namespace Kraken.Daemon.Image;

internal static class InitScript
{
    /// <summary>Every line /init prints starts with this, so a console log can be searched for it.</summary>
    public const string Prefix = "kraken-image:";

    /// <summary>Seconds between kraken exiting and the power-off, to let the console be read.</summary>
    public const int PowerOffDelaySeconds = 10;

    /// <summary>
    /// The script for kernel <paramref name="release"/> with <paramref name="modules"/> loaded in the given order.
    /// The daemon runs as a child of /init rather than replacing it, so that /init can report its exit status and
    /// power the machine off (the parent then sees the node fail and recovers it); kernel arguments
    /// <c>kraken.init=</c> and <c>kraken.shell=</c> change that (see docs/image.md).
    /// </summary>
    public static string Render(string release, IReadOnlyList<KernelModule> modules)
    {
        var list = new StringBuilder();
        foreach (var m in modules)
        {
            list.Append("  ").Append(m.Name).Append(':').Append(m.RelativePath).Append('\n');
        }

        var script = $$"""
            #!/bin/sh
            # /init of the kraken boot image, written by "kraken image build". Kernel arguments read here:
            #   kraken.init=serve   run "kraken serve --boot" (the default)
            #   kraken.init=check   run "kraken --version" and "kraken selftest crypto" instead (tests, first boots)
            #   kraken.init=shell   run no daemon, only a shell on the console
            #   kraken.shell=1      when kraken exits, start a shell on the console instead of powering off
            # Every other kraken.* argument is the daemon's: "kraken serve --boot" reads /proc/cmdline itself.
            export PATH=/bin:/sbin:/usr/bin:/usr/sbin
            say() { echo "{{Prefix}} $*"; }

            mount -t proc -o nosuid,nodev,noexec proc /proc
            mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
            mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
            mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
            mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
            exec </dev/console >/dev/console 2>&1
            say init

            mode=serve
            shell=0
            for arg in $(cat /proc/cmdline); do
              case "$arg" in
                kraken.init=*) mode="${arg#kraken.init=}" ;;
                kraken.shell=*) shell="${arg#kraken.shell=}" ;;
              esac
            done

            # The modules of kernel {{release}}, each after the modules it needs.
            release={{release}}
            [ "$(uname -r)" = "$release" ] || say "warning: kernel $(uname -r) booted, modules are for $release"
            for entry in \
            {{list.ToString().TrimEnd('\n').Replace("\n", " \\\n", StringComparison.Ordinal)}}
            do
              insmod "/lib/modules/$release/${entry#*:}" || say "module ${entry%%:*} failed to load"
            done
            say "modules: $(cut -d ' ' -f 1 /proc/modules | sort | tr '\n' ' ')"

            ip link set lo up
            nics=
            for dev in /sys/class/net/*; do
              nics="$nics ${dev##*/}=$(cat "$dev/address")"
            done
            say "interfaces:$nics"

            console_shell() {
              # cttyhack gives the shell the console as its controlling terminal, so Ctrl-C works.
              setsid cttyhack sh
            }

            case "$mode" in
              serve|check) ;;
              shell)
                say "kraken.init=shell: no daemon; exit the shell to power off"
                console_shell
                poweroff -f
                ;;
              *)
                say "kraken.init=$mode is not serve, check or shell; running serve"
                mode=serve
                ;;
            esac

            if [ "$mode" = check ]; then
              /bin/kraken --version && /bin/kraken selftest crypto
              status=$?
            else
              say "starting kraken serve --boot"
              /bin/kraken serve --boot
              status=$?
            fi

            say "kraken exited with status $status"
            if [ "$shell" = 1 ]; then
              say "kraken.shell=1: starting a shell; exit it to power off"
              console_shell
            else
              say "powering off in {{PowerOffDelaySeconds}} s"
              sleep {{PowerOffDelaySeconds}}
            fi
            poweroff -f
            """;
        return script.Replace("\r", string.Empty, StringComparison.Ordinal) + "\n";
    }
}
