namespace PacketLife.Core.Http;

/// <summary>What `curl [-I] [-v] http://HOST[:PORT]/PATH` prints, split as curl splits it: <see cref="Stdout"/> (the
/// headers with -I, else the body) and <see cref="Stderr"/> (the -v trace). Modelled on curl 8.5.0 (Ubuntu 24.04),
/// the line set facts azure-aks.md §7 lists; exit code as curl's (7 = couldn't connect, 28 = timeout, 56 = recv failure).</summary>
public sealed record CurlOutput(string Stdout, string Stderr, int ExitCode);

public static class CurlModel
{
    public const string Version = "8.5.0";

    /// <summary>A completed exchange.</summary>
    public static CurlOutput Success(string host, ushort port, string method, string path, HttpResponse response, bool verbose, bool headOnly)
    {
        var err = new System.Text.StringBuilder();
        var @out = new System.Text.StringBuilder();
        if (verbose)
        {
            err.Append($"*   Trying {host}:{port}...\n");
            err.Append($"* Connected to {host} ({host}) port {port}\n");
            err.Append($"> {method} {path} HTTP/1.1\n");
            err.Append($"> Host: {(port == 80 ? host : host + ":" + port)}\n");
            err.Append($"> User-Agent: curl/{Version}\n");
            err.Append("> Accept: */*\n");
            err.Append("> \n");
            err.Append("< ").Append(response.StatusLine).Append('\n');
        }
        if (headOnly) @out.Append(response.StatusLine).Append("\r\n");
        foreach (var (name, value) in response.Headers)
        {
            if (verbose) err.Append($"< {name}: {value}\n");
            if (headOnly) @out.Append($"{name}: {value}\r\n");
        }
        if (verbose) err.Append("< \n");
        if (headOnly) @out.Append("\r\n");
        else if (response.BodyLength > 0) @out.Append($"[{response.BodyLength} bytes of nginx's welcome page]\n");
        if (verbose) err.Append($"* Connection #0 to host {host} left intact\n");
        return new CurlOutput(@out.ToString(), err.ToString(), 0);
    }

    /// <summary>The SYN was answered by a RST (nobody listens, or a REJECT with tcp-reset).</summary>
    public static CurlOutput Refused(string host, ushort port, bool verbose, long elapsedMs = 0)
    {
        var err = verbose ? $"*   Trying {host}:{port}...\n" : "";
        err += $"* connect to {host} port {port} failed: Connection refused\n";
        err += $"* Failed to connect to {host} port {port} after {elapsedMs} ms: Couldn't connect to server\n";
        err += "* Closing connection\n";
        if (!verbose) err = $"curl: (7) Failed to connect to {host} port {port} after {elapsedMs} ms: Couldn't connect to server\n";
        else err += $"curl: (7) Failed to connect to {host} port {port} after {elapsedMs} ms: Couldn't connect to server\n";
        return new CurlOutput("", err, 7);
    }

    /// <summary>An ICMP unreachable came back (kube-proxy's REJECT for a Service without endpoints: host-unreachable...).</summary>
    public static CurlOutput Unreachable(string host, ushort port, bool verbose, string why, long elapsedMs = 0)
    {
        var err = verbose ? $"*   Trying {host}:{port}...\n* connect to {host} port {port} failed: {why}\n" : "";
        err += $"curl: (7) Failed to connect to {host} port {port} after {elapsedMs} ms: Couldn't connect to server\n";
        return new CurlOutput("", err, 7);
    }

    /// <summary>The SYN was dropped: the kernel retransmits it tcp_syn_retries=6 times (1+2+4+...+64 = 127 s) and gives
    /// up with ETIMEDOUT, which curl reports as exit 7.</summary>
    public static CurlOutput TimedOut(string host, ushort port, bool verbose)
    {
        var err = verbose ? $"*   Trying {host}:{port}...\n* connect to {host} port {port} failed: Connection timed out\n" : "";
        err += $"curl: (7) Failed to connect to {host} port {port} after 127000 ms: Couldn't connect to server\n";
        return new CurlOutput("", err, 7);
    }
}
