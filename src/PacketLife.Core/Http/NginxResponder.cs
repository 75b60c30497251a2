using System.Globalization;

namespace PacketLife.Core.Http;

/// <summary>An HTTP response as it goes on the wire: status line and headers in order, body length.</summary>
public sealed record HttpResponse(string StatusLine, IReadOnlyList<(string Name, string Value)> Headers, int BodyLength);

/// <summary>The `nginx` image's default server answering `GET /` or `HEAD /` with its welcome page (facts azure-aks.md §7):
/// nginx 1.27.3, index.html of 615 bytes last modified 2024-11-26 15:55:00 UTC, ETag = hex mtime - hex length.</summary>
public static class NginxResponder
{
    public const string Version = "1.27.3";
    public const int IndexLength = 615;
    public static readonly DateTimeOffset IndexModified = new(2024, 11, 26, 15, 55, 0, TimeSpan.Zero);

    /// <summary>`nginx`, `nginx:1.27.3`, `docker.io/library/nginx:latest`, ... (the repository's last path segment).</summary>
    public static bool IsNginxImage(string? image)
    {
        if (string.IsNullOrEmpty(image)) return false;
        var name = image.Split('@')[0];
        var slash = name.LastIndexOf('/');
        var repo = slash >= 0 ? name[(slash + 1)..] : name;
        var colon = repo.IndexOf(':');
        return (colon >= 0 ? repo[..colon] : repo) == "nginx";
    }

    /// <summary>The response to <paramref name="method"/> <paramref name="path"/> at <paramref name="now"/>.</summary>
    public static HttpResponse Respond(string method, string path, DateTimeOffset now)
    {
        if (path is "/" or "/index.html")
        {
            var mtime = IndexModified.ToUnixTimeSeconds();
            return new HttpResponse("HTTP/1.1 200 OK",
            [
                ("Server", "nginx/" + Version),
                ("Date", Rfc1123(now)),
                ("Content-Type", "text/html"),
                ("Content-Length", IndexLength.ToString(CultureInfo.InvariantCulture)),
                ("Last-Modified", Rfc1123(IndexModified)),
                ("Connection", "keep-alive"),
                ("ETag", $"\"{mtime:x}-{IndexLength:x}\""),
                ("Accept-Ranges", "bytes"),
            ], method == "HEAD" ? 0 : IndexLength);
        }
        // nginx's 404 page for any other path (153 bytes with the version in the footer).
        return new HttpResponse("HTTP/1.1 404 Not Found",
        [
            ("Server", "nginx/" + Version),
            ("Date", Rfc1123(now)),
            ("Content-Type", "text/html"),
            ("Content-Length", "153"),
            ("Connection", "keep-alive"),
        ], method == "HEAD" ? 0 : 153);
    }

    public static string Rfc1123(DateTimeOffset t) => t.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture);
}
