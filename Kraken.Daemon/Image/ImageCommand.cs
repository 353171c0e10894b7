// "kraken image build --dir DIR [--cache DIR] [--kernel-package NAME] [--kraken PATH]": the verb over ImageBuilder.
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Image;

internal static class ImageCommand
{
    public static async Task<int> RunAsync(Arguments parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ImageBuildOptions options;
        try
        {
            var output = parsed.Option("--dir") ?? throw new CliException("image build needs --dir DIR", 2);
            options = new ImageBuildOptions(output, parsed.Option("--cache") ?? ImageBuilder.DefaultCache, parsed.Option("--kernel-package"), parsed.Option("--kraken"));
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"kraken image: {ex.Message}").ConfigureAwait(false);
            await stderr.WriteLineAsync("run 'kraken image build --help' for usage").ConfigureAwait(false);
            return ex.ExitCode;
        }

        try
        {
            // The build blocks on the tools it runs; off the caller's thread, it cannot stall an async host.
            var result = await Task.Run(() => ImageBuilder.Build(options, stdout), cancellationToken).ConfigureAwait(false);
            await stdout.WriteLineAsync(ImageBuilder.Summary(result)).ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is ImageBuildException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            await stderr.WriteLineAsync($"kraken image build: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
