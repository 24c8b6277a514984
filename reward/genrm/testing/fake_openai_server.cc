#include "reward/genrm/testing/fake_openai_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace m1rl::reward::genrm::testing {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// The Content-Length of a header block (0 when absent).
size_t ContentLength(const std::string& headers) {
  std::string lower = absl::AsciiStrToLower(headers);
  size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return 0;
  size_t start = at + 17;
  size_t end = lower.find("\r\n", start);
  size_t n = 0;
  if (!absl::SimpleAtoi(std::string(absl::StripAsciiWhitespace(lower.substr(start, end - start))), &n))
    return 0;
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeOpenAiServer>> FakeOpenAiServer::Start(Script script) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1024) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string err = std::strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("fake server bind/listen: ", err));
  }
  std::unique_ptr<FakeOpenAiServer> server(new FakeOpenAiServer(fd, ntohs(addr.sin_port), std::move(script)));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

FakeOpenAiServer::FakeOpenAiServer(int listen_fd, int port, Script script)
    : listen_fd_(listen_fd), port_(port), script_(std::move(script)) {}

FakeOpenAiServer::~FakeOpenAiServer() {
  stop_ = true;
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

std::string FakeOpenAiServer::url() const {
  return absl::StrCat("http://127.0.0.1:", port_, "/v1/chat/completions");
}

std::vector<double> FakeOpenAiServer::arrivals_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return arrivals_;
}

void FakeOpenAiServer::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    connections_++;
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeOpenAiServer::Serve(int fd) {
  std::string buf;
  char chunk[16384];
  while (!stop_) {
    size_t header_end = buf.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t body_len = ContentLength(buf.substr(0, header_end + 2));
      if (buf.size() >= header_end + 4 + body_len) {
        std::string body = buf.substr(header_end + 4, body_len);
        buf.erase(0, header_end + 4 + body_len);
        int index = requests_++;
        int now_active = ++active_;
        for (int peak = peak_.load(); now_active > peak && !peak_.compare_exchange_weak(peak, now_active);) {
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          arrivals_.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
        }
        nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
        FakeReply reply = script_(request.is_discarded() ? nlohmann::json() : request, index);
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(reply.delay_ms);
        while (!stop_ && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        std::string out = reply.raw_body;
        if (out.empty()) {
          nlohmann::json j = {{"id", absl::StrCat("fake-", index)},
                              {"object", "chat.completion"},
                              {"choices",
                               {{{"index", 0},
                                 {"message", {{"role", "assistant"}, {"content", reply.content}}},
                                 {"finish_reason", "stop"}}}}};
          out =
              reply.status == 200 ? j.dump() : nlohmann::json({{"error", {{"message", "scripted"}}}}).dump();
        }
        std::string head =
            absl::StrCat("HTTP/1.1 ", reply.status, " ", Reason(reply.status),
                         "\r\nContent-Type: application/json\r\nContent-Length: ", out.size(), "\r\n");
        if (reply.retry_after_s >= 0) absl::StrAppend(&head, "Retry-After: ", reply.retry_after_s, "\r\n");
        absl::StrAppend(&head, "\r\n");
        --active_;
        if (!SendAll(fd, head + out)) break;
        continue;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
}

}  // namespace m1rl::reward::genrm::testing
