using System.Globalization;
using System.Text;

namespace PacketLife.Lab.Cluster;

/// <summary>nginx configurations of the lab (Debian's nginx-light). Every path (pid, logs, temp directories) is under
/// the lab's state directory, so several nginx instances run side by side and teardown removes their files.</summary>
public static class NginxConfig
{
    /// <summary>A pod: Debian's default page at `/`, the pod's name at `/pod`, and at `/whoami` the address and port
    /// the pod saw the client come from (what SNAT left of it). Connections are closed after each response
    /// (`keepalive_timeout 0`), so repeated requests are repeated connections through kube-proxy's rules.</summary>
    public static string Pod(PodPlan pod, string dir)
    {
        var sb = Header(dir);
        sb.AppendLine("    server {");
        foreach (var port in pod.Ports) sb.AppendLine(CultureInfo.InvariantCulture, $"        listen {port};");
        sb.AppendLine("        root /var/www/html;");
        sb.AppendLine("        index index.html index.htm index.nginx-debian.html;");
        sb.AppendLine(CultureInfo.InvariantCulture, $"        add_header X-Pod \"{pod.Name}\" always;");
        sb.AppendLine("        add_header X-Seen-Client \"$remote_addr:$remote_port\" always;");
        sb.AppendLine("        location = /pod { default_type text/plain; return 200 \"" + pod.Name + "\\n\"; }");
        sb.AppendLine("        location = /whoami { default_type text/plain; return 200 \"pod=" + pod.Name + " ip=$server_addr:$server_port client=$remote_addr:$remote_port\\n\"; }");
        sb.AppendLine("    }");
        sb.AppendLine("}");
        return sb.ToString();
    }

    /// <summary>A node's kube-proxy health servers (<see cref="HealthPortPlan"/>): each port answers every path with its
    /// status, as kube-proxy's healthz and service health servers answer any request.</summary>
    public static string Health(NodePlan node, string dir)
    {
        var sb = Header(dir);
        foreach (var h in node.HealthPorts)
        {
            sb.AppendLine("    server {");
            sb.AppendLine(CultureInfo.InvariantCulture, $"        listen {h.Port};");
            sb.AppendLine(CultureInfo.InvariantCulture, $"        location / {{ default_type application/json; return {h.Status} \"{{\\\"service\\\": \\\"{h.Service}\\\", \\\"node\\\": \\\"{node.Name}\\\"}}\\n\"; }}");
            sb.AppendLine("    }");
        }
        sb.AppendLine("}");
        return sb.ToString();
    }

    private static StringBuilder Header(string dir)
    {
        var sb = new StringBuilder();
        sb.AppendLine("daemon off;");
        sb.AppendLine("master_process on;");
        sb.AppendLine("worker_processes 1;");
        sb.AppendLine("user root;");
        sb.AppendLine(CultureInfo.InvariantCulture, $"pid {dir}/nginx.pid;");
        sb.AppendLine(CultureInfo.InvariantCulture, $"error_log {dir}/error.log;");
        sb.AppendLine("events { worker_connections 256; }");
        sb.AppendLine("http {");
        sb.AppendLine("    include /etc/nginx/mime.types;");
        sb.AppendLine(CultureInfo.InvariantCulture, $"    access_log {dir}/access.log;");
        foreach (var t in new[] { "client_body", "proxy", "fastcgi", "uwsgi", "scgi" })
            sb.AppendLine(CultureInfo.InvariantCulture, $"    {t}_temp_path {dir}/tmp/{t};");
        sb.AppendLine("    keepalive_timeout 0;");
        return sb;
    }
}
