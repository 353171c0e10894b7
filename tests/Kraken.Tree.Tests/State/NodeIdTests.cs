using Kraken.Tree.State;

namespace Kraken.Tree.Tests.State;

public class NodeIdTests
{
    [Theory]
    [InlineData("123e4567-e89b-12d3-a456-426655440000")]
    [InlineData("ffffffff-ffff-ffff-ffff-ffffffffffff")]
    [InlineData("00000000-0000-0000-0000-000000000001")]
    public void Text_form_round_trips(string text)
    {
        var id = NodeId.Parse(text);
        Assert.Equal(text, id.ToString());
        Assert.Equal(id, new NodeId(id.ToByteArray()));
    }

    [Fact]
    public void Upper_case_braces_and_bare_hex_parse_to_the_same_id()
    {
        var id = NodeId.Parse("123e4567-e89b-12d3-a456-426655440000");
        Assert.Equal(id, NodeId.Parse("{123E4567-E89B-12D3-A456-426655440000}"));
        Assert.Equal(id, NodeId.Parse("123e4567e89b12d3a456426655440000"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("123e4567-e89b-12d3-a456-42665544000")]
    [InlineData("123e4567-e89b-12d3-a456-4266554400000")]
    [InlineData("123e4567+e89b-12d3-a456-426655440000")]
    [InlineData("g23e4567-e89b-12d3-a456-426655440000")]
    public void Malformed_text_is_rejected_with_the_expected_form(string text)
    {
        Assert.False(NodeId.TryParse(text, out _));
        var ex = Assert.Throws<FormatException>(() => NodeId.Parse(text));
        Assert.Contains("UUID", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ordering_follows_the_binary_and_text_order()
    {
        var ids = Enumerable.Range(0, 50).Select(_ => NodeId.NewRandom()).ToList();
        var byId = ids.Order().Select(i => i.ToString()).ToList();
        var byText = ids.Select(i => i.ToString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(byText, byId);
    }

    [Fact]
    public void Name_based_ids_are_stable_and_distinct()
    {
        Assert.Equal(NodeId.FromName("kr1"), NodeId.FromName("kr1"));
        Assert.NotEqual(NodeId.FromName("kr1"), NodeId.FromName("kr2"));
        Assert.False(NodeId.FromName("kr1").IsNil);
    }
}
