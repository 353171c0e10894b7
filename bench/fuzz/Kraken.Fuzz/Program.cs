// Entry point: "list", "seed CORPUS EXAMPLES", or "TARGET" under libFuzzer, or "TARGET FILE|DIR..." to replay inputs.
using Kraken.Fuzz;
using SharpFuzz;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: Kraken.Fuzz list | seed CORPUS_DIR EXAMPLES_DIR | TARGET [FILE|DIR...]");
    return 2;
}

// The instrumented assemblies count edges from their first call (static constructors run before libFuzzer's map
// is attached, and replay has none): give them a map to write to until then.
unsafe
{
    SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
}

if (args[0] == "list")
{
    foreach (var (name, (_, maxLength)) in Targets.All)
    {
        Console.WriteLine($"{name} {maxLength}");
    }

    return 0;
}

if (args[0] == "seed" && args.Length == 3)
{
    Seeds.Write(args[1], args[2]);
    return 0;
}

if (!Targets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"unknown target '{args[0]}'; known: {string.Join(", ", Targets.All.Keys)}");
    return 2;
}

if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null)
{
    Fuzzer.LibFuzzer.Run(target.Run);
    return 0;
}

// Replay: every file given, or every file in every directory given; a throw is reported and counted.
var files = args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
var failures = 0;
foreach (var file in files)
{
    try
    {
        target.Run(File.ReadAllBytes(file));
    }
#pragma warning disable CA1031 // Replay reports every escaping exception: that is what it is for.
    catch (Exception e)
#pragma warning restore CA1031
    {
        failures++;
        Console.Error.WriteLine($"{file}: {e}");
    }
}

Console.WriteLine($"{args[0]}: {files.Count} inputs, {failures} failures");
return failures == 0 ? 0 : 1;
