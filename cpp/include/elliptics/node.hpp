// node.hpp: a client's connections to a cluster.
#ifndef ELLIPTICS_NODE_HPP
#define ELLIPTICS_NODE_HPP

#include <elliptics.h>
#include <elliptics/detail/handle.hpp>
#include <elliptics/error.hpp>
#include <elliptics/key.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ioremap {
namespace elliptics {

enum class log_level : std::int32_t {
	error = ELL_LOG_ERROR,
	warning = ELL_LOG_WARNING,
	info = ELL_LOG_INFO,
	notice = ELL_LOG_NOTICE,
	debug = ELL_LOG_DEBUG,
};

// node_config: how a node connects and logs. Zero durations mean the
// library's defaults (5 s each).
struct node_config {
	std::chrono::milliseconds wait_timeout{0};  // default time a call waits for replies
	std::chrono::milliseconds dial_timeout{0};  // connecting to a node
	std::chrono::milliseconds check_timeout{0}; // how often routes are pulled again
	bool proxy = false;                         // send everything through the remotes added (NAT)
	log_level level = log_level::error;
	std::string log_file; // "": no log; "/dev/stderr" works
	std::string name;     // names the client in node logs
};

// One route: a ring point of a backend.
struct route {
	::ioremap::elliptics::id id;
	std::uint32_t group_id = 0;
	std::int32_t backend_id = 0;
	std::string address; // "host:port"
};

class session;

// node holds the connections to a cluster. Move-only; sessions made from it
// share it, so the connections close when the node and all its sessions are
// gone (operations still in flight then fail with ELL_ECANCELED).
class node {
public:
	explicit node(const node_config &config = node_config()) : state_(std::make_shared<detail::node_handle>()) {
		ell_node_config c{};
		ell_node_config_init(&c);
		if (config.wait_timeout.count() > 0)
			c.wait_timeout_ms = config.wait_timeout.count();
		if (config.dial_timeout.count() > 0)
			c.dial_timeout_ms = config.dial_timeout.count();
		if (config.check_timeout.count() > 0)
			c.check_timeout_ms = config.check_timeout.count();
		c.proxy = config.proxy ? 1 : 0;
		c.log_level = static_cast<std::int32_t>(config.level);
		c.log_file = config.log_file.empty() ? nullptr : config.log_file.c_str();
		c.name = config.name.empty() ? nullptr : config.name.c_str();
		ell_node_t h = 0;
		ell_error err{};
		detail::check(ell_node_new(&c, &h, &err), err);
		state_->reset(h);
	}

	node(const node &) = delete;
	node &operator=(const node &) = delete;
	node(node &&) noexcept = default;
	node &operator=(node &&) noexcept = default;
	~node() = default;

	// Connects to "host:port" and learns the cluster's routes from it.
	void add_remote(const std::string &address) { add_remotes(std::vector<std::string>{address}); }

	// Connects to the addresses; succeeds if at least one is reached (blocks
	// for at most the dial timeout).
	void add_remotes(const std::vector<std::string> &addresses) {
		std::vector<const char *> c;
		c.reserve(addresses.size());
		for (const std::string &a : addresses)
			c.push_back(a.c_str());
		ell_error err{};
		detail::check(ell_node_add_remotes(handle(), c.data(), c.size(), &err), err);
	}

	// The default wait timeout of sessions made after the call, and how often
	// routes are pulled again; zero leaves a value as it is.
	void set_timeouts(std::chrono::milliseconds wait_timeout,
			  std::chrono::milliseconds check_timeout = std::chrono::milliseconds(0)) {
		ell_error err{};
		detail::check(ell_node_set_timeouts(handle(), wait_timeout.count(), check_timeout.count(), &err), err);
	}

	// Connects with TLS from now on (docs/tls.md): ca_file verifies the
	// nodes ("" = the system's pool); cert_file and key_file, both or
	// neither, are the client certificate; server_name, unless "", is the
	// name verified instead of the host of the address. Call before
	// add_remotes.
	void set_tls(const std::string &ca_file, const std::string &cert_file = {}, const std::string &key_file = {},
		     const std::string &server_name = {}) {
		ell_error err{};
		detail::check(ell_node_set_tls(handle(), ca_file.c_str(), cert_file.c_str(), key_file.c_str(),
					       server_name.c_str(), &err),
			      err);
	}

	// The current route table, sorted by group, then id.
	[[nodiscard]] std::vector<route> routes() const { return routes_of(handle()); }

	[[nodiscard]] ell_node_t native_handle() const { return handle(); }

private:
	friend class session;

	static std::vector<route> routes_of(ell_node_t h) {
		detail::route_list_guard guard;
		ell_error err{};
		detail::check(ell_node_routes(h, &guard.list, &err), err);
		guard.filled = true;
		std::vector<route> out;
		out.reserve(guard.list.count);
		for (std::size_t i = 0; i < guard.list.count; ++i) {
			const ell_route &r = guard.list.routes[i];
			route x;
			x.id = ::ioremap::elliptics::id(r.id);
			x.group_id = r.group_id;
			x.backend_id = r.backend_id;
			x.address = r.address != nullptr ? r.address : "";
			out.push_back(std::move(x));
		}
		return out;
	}

	ell_node_t handle() const {
		if (state_ == nullptr)
			throw std::logic_error("elliptics::node: moved from");
		return state_->get();
	}

	std::shared_ptr<detail::node_handle> state_;
};

} // namespace elliptics
} // namespace ioremap

#endif // ELLIPTICS_NODE_HPP
