using System.Text.RegularExpressions;
using Xar.Runtime.Launching;

namespace Xar.Runtime.Tests;

/// <summary>
/// Every failed launch is told in words: whatever the subject and problem, the message names neither an enum member
/// (before, an unnamed pair came out as e.g. "/x: CannotOpen: No such file or directory").
/// </summary>
public sealed unsafe class LaunchMessageTests
{
    public static TheoryData<LaunchSubject> Subjects()
    {
        var data = new TheoryData<LaunchSubject>();
        foreach (var subject in Enum.GetValues<LaunchSubject>())
            if (subject is not LaunchSubject.None and not LaunchSubject.Header) // a header message re-reads the file
                data.Add(subject);
        return data;
    }

    [Theory]
    [MemberData(nameof(Subjects))]
    public void EveryProblemOfEverySubjectIsInWords(LaunchSubject subject)
    {
        var names = new Regex(@"\b(" + string.Join("|", Enum.GetNames<LaunchProblem>().Concat(Enum.GetNames<LaunchSubject>()).Where(n => n.Length > 4)) + @")\b");
        foreach (var problem in Enum.GetValues<LaunchProblem>())
        {
            if (problem is LaunchProblem.None or LaunchProblem.CutShort)
                continue;
            foreach (int errno in new[] { 0, 2 })
            {
                LaunchOutcome o = default;
                o.XarFd = -1;
                o.CacheRootFd = -1;
                fixed (byte* path = "/some/where\0"u8)
                    LaunchFailure.Set(ref o, subject, problem, errno, path);
                string message = XarLauncher.Describe(ref o);
                Assert.False(names.IsMatch(message), $"{subject}/{problem}: {message}");
            }
        }
    }
}
