import Hummingbird; import Prometheus; import ServiceLifecycle; import NIOWebSocket; import Metrics
