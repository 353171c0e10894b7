namespace Kraken.Sim.Tests;

public class ProgramTests
{
    [Fact]
    public void The_default_run_prints_the_embedded_example_cluster_as_a_tree()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, Program.Run([], stdout, stderr));
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("9 nodes, 1 root(s)", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("root ", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("  t1a ", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("    n101 ", lines[3], StringComparison.Ordinal);
        Assert.Contains("backup t1b", lines[3], StringComparison.Ordinal);
        Assert.Equal(10, lines.Length);
        Assert.Equal(string.Empty, stderr.ToString());
    }

    [Fact]
    public void Show_reports_every_error_of_a_bad_file_and_fails()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"nodes":[{"id":"123e4567-e89b-12d3-a456-426655440000","physState":"ON"},{"nodename":"x"}]}""");
            var stderr = new StringWriter();
            Assert.Equal(1, Program.Run(["show", path], new StringWriter(), stderr));
            Assert.Contains("nodes[0] (123e4567-e89b-12d3-a456-426655440000) /PhysState", stderr.ToString(), StringComparison.Ordinal);
            Assert.Contains("nodes[1] /Id", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unknown_arguments_print_usage()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, Program.Run(["frobnicate"], new StringWriter(), stderr));
        Assert.Contains("usage", stderr.ToString(), StringComparison.Ordinal);
    }
}
