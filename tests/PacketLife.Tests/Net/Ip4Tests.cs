using PacketLife.Core.Net;

namespace PacketLife.Tests.Net;

public class Ip4Tests
{
    [Theory]
    [InlineData("10.244.0.33", 0x0AF40021u)]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    [InlineData("172.30.0.041", 0xAC1E0029u)] // leading zeros read as decimal, as kube-proxy's sloppy parser does
    public void Parses_dotted_quads(string text, uint value) => Assert.Equal(value, Ip4.Parse(text).Value);

    [Theory]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("a.b.c.d")]
    [InlineData("")]
    [InlineData("1.2.3.4 ")]
    public void Rejects_invalid_addresses(string text) => Assert.False(Ip4.TryParse(text, out _));

    [Theory]
    [InlineData("10.0.0.0/8", "10.255.1.2", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("10.244.0.33", "10.244.0.33", true)]
    [InlineData("10.0.0.0/255.255.0.0", "10.0.200.1", true)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    public void Prefix_contains(string prefix, string ip, bool expected) =>
        Assert.Equal(expected, Ip4Prefix.Parse(prefix).Contains(Ip4.Parse(ip)));

    [Theory]
    [InlineData("10.0.0.1", "10.0.0.1/32")]
    [InlineData("203.0.113.000/025", "203.0.113.0/25")]
    [InlineData("10.0.0.0/255.255.0.0", "10.0.0.0/16")]
    public void Prefix_prints_canonically(string text, string printed) => Assert.Equal(printed, Ip4Prefix.Parse(text).ToString());

    [Fact]
    public void Non_contiguous_masks_are_rejected() => Assert.False(Ip4Prefix.TryParse("10.0.0.0/255.0.255.0", out _));
}
