using System.Text;
using Xar.SquashFs.Reading;

namespace Xar.SquashFs.Tests;

/// <summary>Duplicate names in a listing: by sort order (nothing kept per entry), by a set only once the order breaks.</summary>
public class DuplicateNameCheckTests
{
    private static byte[] N(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void ASortedListingIsCheckedWithoutReadingItAgain()
    {
        var check = new DuplicateNameCheck();
        int reads = 0;
        IEnumerable<byte[]> Listing() { reads++; return []; }
        for (int i = 0; i < 100_000; i++)
            Assert.True(check.Add(N($"f{i:D7}"), Listing));
        Assert.Equal(0, reads);
        Assert.False(check.Add(N("f0099999"), Listing)); // equal to the one before: refused at once
    }

    [Fact]
    public void AnUnsortedListingFallsBackToTheNamesBeforeTheBreak()
    {
        string[] names = ["b", "d", "c", "a", "d"];
        var check = new DuplicateNameCheck();
        IEnumerable<byte[]> Listing() => names.Select(N);
        Assert.True(check.Add(N("b"), Listing));
        Assert.True(check.Add(N("d"), Listing));
        Assert.True(check.Add(N("c"), Listing)); // out of order, not a duplicate
        Assert.True(check.Add(N("a"), Listing));
        Assert.False(check.Add(N("d"), Listing)); // three entries after the first "d"
        check.Reset();
        Assert.True(check.Add(N("d"), Listing)); // a new directory starts empty
    }
}
