// Splitting a kernel command line as the kernel does: whitespace, double quotes, bare keys, "--".
using Kraken.Daemon.Boot;

namespace Kraken.Daemon.Tests.Boot;

public sealed class KernelCommandLineTests
{
    private static string Show(string commandLine) =>
        string.Join(" | ", KernelCommandLine.Split(commandLine).Select(p => p.Value is null ? p.Key : $"{p.Key}=[{p.Value}]"));

    [Theory]
    [InlineData("a=1 b=2", "a=[1] | b=[2]")]
    [InlineData("  a=1\t\tb=2\n", "a=[1] | b=[2]")]
    [InlineData("quiet ro a=", "quiet | ro | a=[]")]
    [InlineData("a=\"x y\" b=2", "a=[x y] | b=[2]")]                 // quoted value
    [InlineData("\"a=x y\" b=2", "a=[x y] | b=[2]")]                 // quoted parameter
    [InlineData("a=x\"y z\"w b", "a=[x\"y z\"w] | b")]               // a quote inside the value protects the space and stays
    [InlineData("a=\"x y", "a=[x y]")]                              // unclosed: runs to the end
    [InlineData("a=\"\" b", "a=[] | b")]
    [InlineData("a==b c=d=e", "a=[=b] | c=[d=e]")]                  // the first '=' splits
    [InlineData("=a=b", "=a=[b]")]                                   // as the kernel, a leading '=' belongs to the key
    [InlineData("\"quoted\" x", "quoted | x")]
    [InlineData("a=1 -- b=2 c", "a=[1]")]                            // the rest is init's
    [InlineData("a=1 \"--\" b=2", "a=[1]")]
    [InlineData("a=1 --b=2", "a=[1] | --b=[2]")]
    [InlineData("", "")]
    [InlineData(" \n", "")]
    public void Splits_as_the_kernel_does(string commandLine, string expected) => Assert.Equal(expected, Show(commandLine));

    [Theory]
    [InlineData("kraken.name", "n11", "kraken.name=n11")]
    [InlineData("kraken.bootstrap", "/run/boot strap", "kraken.bootstrap=\"/run/boot strap\"")]
    [InlineData("kraken.bootstrap", "/run/tab\there", "kraken.bootstrap=\"/run/tab\there\"")]
    [InlineData("k", "", "k=")]
    public void Format_quotes_values_with_whitespace_and_splits_back(string key, string value, string expected)
    {
        var formatted = KernelCommandLine.Format(key, value);
        Assert.Equal(expected, formatted);
        Assert.Equal(new KernelParameter(key, value), Assert.Single(KernelCommandLine.Split($"x=1 {formatted} y=2"), p => p.Key == key));
    }

    [Fact]
    public void A_value_with_a_double_quote_cannot_be_rendered()
    {
        var e = Assert.Throws<ArgumentException>(() => KernelCommandLine.Format("kraken.name", "a\"b"));
        Assert.StartsWith("kraken.name: ", e.Message, StringComparison.Ordinal);
    }
}
