// A tiny Java service (a stand-in for seed 001's agile-core): answers GET / on --port (default 8081)
// with its name, version and uptime as JSON, and GET /health with "ok".
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public final class Hello {
    static final String VERSION = "1";

    public static void main(String[] args) throws Exception {
        int port = 8081;
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals("--port")) port = Integer.parseInt(args[i + 1]);
        }
        if (port < 1 || port > 65535) throw new IllegalArgumentException("--port must be 1..65535");
        long started = System.nanoTime();
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            String body = path.equals("/health") ? "ok\n"
                : String.format("{\"service\":\"java-hello\",\"version\":\"%s\",\"uptime_ms\":%d}%n",
                    VERSION, (System.nanoTime() - started) / 1_000_000);
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", path.equals("/health") ? "text/plain" : "application/json");
            exchange.sendResponseHeaders(200, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) { out.write(bytes); }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(0)));
        server.start();
        System.out.println("java-hello " + VERSION + " listening on :" + port);
    }
}
