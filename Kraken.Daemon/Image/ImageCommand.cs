// "kraken image build --output DIR [--cache DIR] [--kernel-package NAME] [--kraken PATH]": the verb over ImageBuilder.
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Image;

internal static class ImageCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ImageBuildOptions options;
        try
        {
            var parsed = Arguments.Parse(args);
            if (parsed.Positional is not ["build"])
            {
                throw new CliException(parsed.Positional.Count == 0 ? "missing 'build'" : $"'image {string.Join(' ', parsed.Positional)}' is not a verb; use image build", 2);
            }

            parsed.AllowOnly("--output", "--cache", "--kernel-package", "--kraken");
            var output = parsed.Option("--output") ?? throw new CliException("image build needs --output DIR", 2);
            options = new ImageBuildOptions(output, parsed.Option("--cache") ?? ImageBuilder.DefaultCache, parsed.Option("--kernel-package"), parsed.Option("--kraken"));
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"kraken image: {ex.Message}").ConfigureAwait(false);
            await stderr.WriteLineAsync("run 'kraken help' for usage").ConfigureAwait(false);
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
