namespace PacketLife.Lab.Tests;

/// <summary>Lines a kernel comparison wants in the CI log whether it passes or not ("1000/1000 agree"): the test
/// runner shows a passing test's output only at detailed verbosity, so `scripts/test.sh` names a file in
/// PACKETLIFE_TEST_REPORT and prints it before its summary line. Without the variable nothing is written.</summary>
public static class TestReport
{
    static readonly object Gate = new();

    public static void Line(string text)
    {
        var file = Environment.GetEnvironmentVariable("PACKETLIFE_TEST_REPORT");
        if (string.IsNullOrEmpty(file)) return;
        lock (Gate) File.AppendAllText(file, text.TrimEnd('\n') + "\n");
    }
}
