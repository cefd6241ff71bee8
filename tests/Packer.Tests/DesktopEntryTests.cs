using Xar.Packer.Desktop;

namespace Xar.Packer.Tests;

/// <summary>Desktop entry files read and rewritten line by line, the Exec line's quoting, icons told by their bytes.</summary>
public class DesktopEntryTests
{
    private static byte[] Bytes(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    [Fact]
    public void UnchangedLinesComeBackAsTheyWere()
    {
        const string text = "# a comment\n\n[Desktop Entry]\nType=Application\nName=App\nName[de]=Anwendung\nExec = app %U\n\n[Desktop Action New]\nName=New\nExec=app --new\n";
        var entry = DesktopEntry.Parse(Bytes(text));
        Assert.Equal(text, System.Text.Encoding.UTF8.GetString(entry.ToBytes()));
        Assert.Equal("Anwendung", entry.Get("Name[de]"));
        Assert.Equal("app %U", entry.Get("Exec"));
        Assert.Equal("app --new", entry.Get("Exec", "Desktop Action New"));
        Assert.Empty(entry.BadLines);
    }

    [Fact]
    public void SetReplacesTheFirstDropsDuplicatesAndAddsAtTheGroupsEnd()
    {
        var entry = DesktopEntry.Parse(Bytes("[Desktop Entry]\nIcon=a\nName=App\nIcon=b\n\n[Desktop Action X]\nName=X\n"));
        entry.Set("Icon", "c");
        entry.Set("TryExec", "/opt/my app");
        Assert.Equal("[Desktop Entry]\nIcon=c\nName=App\nTryExec=/opt/my app\n\n[Desktop Action X]\nName=X\n", System.Text.Encoding.UTF8.GetString(entry.ToBytes()));
    }

    [Fact]
    public void RemoveAllTakesTheKeyOfEveryGroupAndLocale()
    {
        var entry = DesktopEntry.Parse(Bytes("[Desktop Entry]\nName=App\nTerminalOptions=-e x\nTerminalOptions[de]=-e y\nTerminalOptionsX=1\n[Desktop Action A]\nTerminalOptions=-e z\n"));
        Assert.Equal(3, entry.RemoveAll("TerminalOptions"));
        Assert.Equal("[Desktop Entry]\nName=App\nTerminalOptionsX=1\n[Desktop Action A]\n", System.Text.Encoding.UTF8.GetString(entry.ToBytes()));
    }

    [Theory]
    [InlineData("a\\sb\\nc\\td\\\\e\\x", "a b\nc\td\\e\\x")]
    [InlineData("plain", "plain")]
    public void StringEscapesAreUndone(string raw, string value) => Assert.Equal(value, DesktopEntry.Unescape(raw));

    [Theory]
    [InlineData(" lead\\tab", "\\slead\\\\tab")]
    [InlineData("two\nlines", "two\\nlines")]
    public void ValuesAreEscapedForTheFile(string value, string raw)
    {
        Assert.Equal(raw, DesktopEntry.Escape(value));
        Assert.Equal(value, DesktopEntry.Unescape(raw));
    }

    [Theory]
    [InlineData("AppRun %F", "/opt/app", "/opt/app %F")]
    [InlineData("\"my app\" --x \"a b\" %U", "/opt/app", "/opt/app --x \"a b\" %U")]
    [InlineData("app", "/opt/my app", "\"/opt/my app\"")]
    [InlineData("app %f", "/opt/a$b\"c`d", "\"/opt/a\\\\$b\\\\\"c\\\\`d\" %f")]
    [InlineData("app", "/opt/back\\slash", "\"/opt/back\\\\\\\\slash\"")]
    [InlineData("app", "/opt/100%", "/opt/100%%")]
    public void TheProgramIsReplacedAndQuotedArgumentsKept(string rawExec, string program, string expected) =>
        Assert.Equal(expected, DesktopExec.ReplaceProgram(rawExec, program));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\"unclosed")]
    public void AnExecWithoutProgramIsRefused(string rawExec) =>
        Assert.Throws<FormatException>(() => DesktopExec.ReplaceProgram(rawExec, "/opt/app"));

    [Theory]
    [InlineData("\"AppRun\".sh %F", "has '.' right after a closing quote, where a space or the end of the line must follow")]
    [InlineData("\"my app\"\"x\" %F", "has '\"' right after a closing quote")]
    [InlineData("AppRun \"a b\"c", "has 'c' right after a closing quote")]
    [InlineData("App\"Run\" %F", "has '\"' outside quotes: an argument holding it must be quoted in whole")]
    [InlineData("AppRun\\t--evil %F", "has a tab outside quotes")]
    [InlineData("AppRun\t--evil", "has a tab outside quotes")]
    [InlineData("AppRun\\n--evil", "has a newline outside quotes")]
    [InlineData("AppRun ~/file", "has '~' outside quotes")]
    [InlineData("AppRun $HOME", "has '$' outside quotes")]
    [InlineData("AppRun \"a$b\"", "has a $ in quotes without the backslash")]
    [InlineData("AppRun \"a\\\\qb\"", "has a backslash in quotes that escapes none of")]
    [InlineData("VAR=1 AppRun", "has a program name holding =")]
    [InlineData("\"unclosed", "has a quote that is not closed")]
    [InlineData("  ", "has no program")]
    public void MalformedExecLinesAreRefusedAsTheSpecificationHasThem(string rawExec, string problem)
    {
        var e = Assert.Throws<FormatException>(() => DesktopExec.ReplaceProgram(rawExec, "/opt/app"));
        Assert.StartsWith($"Exec={rawExec} {problem}", e.Message);
    }

    [Theory]
    [InlineData("\"App Run\" %F", "/opt/app %F")]
    [InlineData("\"AppRun\"", "/opt/app")]
    [InlineData("AppRun  --a   \"b c\"  ", "/opt/app  --a   \"b c\"  ")]
    [InlineData("AppRun \"a\\\\\\\\b \\\\$x \\\\\" \\\\`\"", "/opt/app \"a\\\\\\\\b \\\\$x \\\\\" \\\\`\"")]
    [InlineData("AppRun --opt=1 %%", "/opt/app --opt=1 %%")]
    public void WellFormedExecLinesKeepTheirArguments(string rawExec, string expected) =>
        Assert.Equal(expected, DesktopExec.ReplaceProgram(rawExec, "/opt/app"));

    [Fact]
    public void IconsAreToldByTheirBytes()
    {
        var png = DesktopIcon.Identify(DesktopBundleTests.Png(48))!;
        Assert.Equal(("48x48", ".png", true), (png.ThemeDirectory, png.Extension, png.IsThemeSize));
        Assert.False(DesktopIcon.Identify(DesktopBundleTests.Png(50))!.IsThemeSize);
        var svg = DesktopIcon.Identify(Bytes("\uFEFF<?xml version=\"1.0\"?>\n<!-- drawn by hand -->\n<!DOCTYPE svg>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"))!;
        Assert.Equal(("scalable", ".svg"), (svg.ThemeDirectory, svg.Extension));
        Assert.Null(DesktopIcon.Identify(Bytes("<html><svg/></html>")));
        Assert.Null(DesktopIcon.Identify(Bytes("GIF89a")));
        Assert.Null(DesktopIcon.Identify([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]));
    }

    [Theory]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nExec=x\n", null)]
    [InlineData("x.txt", "[Desktop Entry]\nType=Application\nName=X\nExec=x\n", "does not end in .desktop")]
    [InlineData("x.desktop", "[Other]\nType=Application\n", "the first group is not [Desktop Entry]")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nName=Y\nExec=x\n", "key \"Name\" appears twice")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nExec=x\n[Desktop Entry]\n", "group [Desktop Entry] appears twice")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Program\nName=X\n", "Type=Program is not Application, Link or Directory")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Link\nName=X\n", "required key \"URL\" for Type=Link")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nExec=x\nTerminal=yes\n", "Terminal=yes is not a boolean")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nExec=\"x\n", "Exec=\"x in group [Desktop Entry] has a quote that is not closed")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nExec=x\n[Desktop Action A]\nExec=\"x\"y\n", "Exec=\"x\"y in group [Desktop Action A] has 'y' right after a closing quote")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nExec=x\nno equals sign\n", "line 5 is not a comment")]
    [InlineData("x.desktop", "[Desktop Entry]\nType=Application\nName=X\nDBusActivatable=true\nX-Vendor=1\n", null)]
    public void OwnChecksFindTheFirstProblem(string name, string text, string? error)
    {
        string? found = DesktopEntryCheck.FirstError(name, Bytes(text));
        if (error is null)
            Assert.Null(found);
        else
            Assert.Contains(error, found);
    }

    [Fact]
    public void NotUtf8IsRefused() =>
        Assert.Contains("not UTF-8", DesktopEntryCheck.FirstError("x.desktop", [.. Bytes("[Desktop Entry]\nName="), 0xFF, 0x0A]));
}
