// A short, deterministic run of every fuzz target (bench/fuzz): its committed corpus, then seeded mutations of it.
using Kraken.Fuzz;

namespace Kraken.Daemon.Tests.Fuzz;

public class FuzzCorpusTests
{
    /// <summary>Mutants per target: a few seconds for the slowest target (Redfish runs the whole driver twice per input).</summary>
    private const int Mutants = 4000;

    private static string Corpus => Path.Combine(TestDaemon.RepoRoot(), "bench", "fuzz", "corpus");

    public static TheoryData<string> Names => new(Targets.All.Keys.Order(StringComparer.Ordinal));

    [Fact]
    public void Every_target_has_a_corpus_and_every_corpus_a_target()
    {
        var dirs = Directory.GetDirectories(Corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Targets.All.Keys.Order(StringComparer.Ordinal), dirs);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Target_survives_its_corpus_and_mutations_of_it(string name)
    {
        var (run, maxLength) = Targets.All[name];
        var seeds = Directory.GetFiles(Path.Combine(Corpus, name)).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        Assert.NotEmpty(seeds);
        foreach (var seed in seeds)
        {
            Assert.True(seed.Length <= maxLength, $"{name}: a seed of {seed.Length} bytes exceeds the target's {maxLength}");
            run(seed);
        }

        // The seed makes a failure reproducible: the failing mutant is in the message.
        var random = new Random(name.Length * 7919 + name[0]);
        for (var i = 0; i < Mutants; i++)
        {
            var input = Mutate(seeds[random.Next(seeds.Count)], random, maxLength);
            try
            {
                run(input);
            }
            catch (Exception e)
            {
                Assert.Fail($"{name}: mutant {i} ({Convert.ToHexString(input)}) threw {e}");
            }
        }
    }

    /// <summary>One to four of libFuzzer's simplest mutations: flip a bit, set a byte, insert, erase, or splice in a boundary value.</summary>
    private static byte[] Mutate(byte[] seed, Random random, int maxLength)
    {
        var bytes = new List<byte>(seed);
        var n = random.Next(1, 5);
        for (var k = 0; k < n; k++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 9)));
                    break;
                default:
                    if (bytes.Count > 0)
                    {
                        byte[] boundaries = [0x00, 0x7F, 0x80, 0xFF, (byte)'"', (byte)'\\', (byte)'\n', (byte)'-', (byte)'9'];
                        bytes[at] = boundaries[random.Next(boundaries.Length)];
                    }

                    break;
            }
        }

        return [.. bytes.Take(maxLength)];
    }
}
