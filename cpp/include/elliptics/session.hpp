// session.hpp: the Elliptics C++ API (include this one header).
//
//   namespace ell = ioremap::elliptics;
//   ell::node n;
//   n.add_remote("127.0.0.1:1025");
//   ell::session s(n);
//   s.set_groups({1, 2, 3});
//   s.write_data("key", "data").wait();
//   std::string v = s.read_data("key").get_one().data();
//
// A header-only layer over the C ABI of libelliptics (elliptics.h): build
// with -I cpp/include -I capi and link with -lelliptics.
#ifndef ELLIPTICS_SESSION_HPP
#define ELLIPTICS_SESSION_HPP

#include <elliptics.h>
#include <elliptics/async_result.hpp>
#include <elliptics/detail/handle.hpp>
#include <elliptics/error.hpp>
#include <elliptics/key.hpp>
#include <elliptics/node.hpp>
#include <elliptics/result_entry.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ioremap {
namespace elliptics {

// How a multi-group call decides success from the per-group statuses.
enum class checkers : std::int32_t {
	no_check = ELL_CHECKER_NO_CHECK,
	at_least_one = ELL_CHECKER_AT_LEAST_ONE, // default
	all = ELL_CHECKER_ALL,
	quorum = ELL_CHECKER_QUORUM,
};

// Which entries a result carries.
enum class filters : std::int32_t {
	positive = ELL_FILTER_POSITIVE, // default: successes only
	negative = ELL_FILTER_NEGATIVE, // failures only
	all = ELL_FILTER_ALL,
};

// The node that owns a key in a group.
struct address_info {
	std::string address; // "host:port"
	std::int32_t backend_id = 0;
};

// The library's version ("0.1.0") and its ABI version as built.
inline std::string version() {
	const char *v = ell_version();
	return v != nullptr ? v : "";
}
inline int abi_version() noexcept { return ell_abi_version(); }

// session holds the settings of a series of calls (groups, timeout, flags,
// namespace, checker, filter) on a node, which it keeps open. Move-only;
// clone() makes an independent copy with the same settings. Data calls are
// thread-safe; change settings from one thread at a time.
class session {
public:
	explicit session(const node &n) : node_(n.state_) {
		if (node_ == nullptr)
			throw std::logic_error("elliptics::session: the node was moved from");
		ell_session_t h = 0;
		ell_error err{};
		detail::check(ell_session_new(node_->get(), &h, &err), err);
		handle_.reset(h);
	}

	session(const session &) = delete;
	session &operator=(const session &) = delete;
	session(session &&) noexcept = default;
	session &operator=(session &&other) noexcept {
		// The session handle must go before the node it belongs to.
		if (this != &other) {
			handle_ = std::move(other.handle_);
			node_ = std::move(other.node_);
		}
		return *this;
	}
	~session() { handle_.reset(); }

	// An independent session with the same settings.
	[[nodiscard]] session clone() const {
		ell_session_t h = 0;
		ell_error err{};
		detail::check(ell_session_clone(handle(), &h, &err), err);
		return session(node_, detail::session_handle(h));
	}

	// ---- settings ----

	void set_groups(const std::vector<std::uint32_t> &groups) {
		ell_error err{};
		detail::check(ell_session_set_groups(handle(), groups.data(), groups.size(), &err), err);
	}
	[[nodiscard]] std::vector<std::uint32_t> get_groups() const {
		std::vector<std::uint32_t> out(16);
		for (;;) {
			std::size_t n = ell_session_get_groups(handle(), out.data(), out.size());
			if (n <= out.size()) {
				out.resize(n);
				return out;
			}
			out.resize(n);
		}
	}

	// Zero: the node's default.
	void set_timeout(std::chrono::milliseconds timeout) {
		ell_error err{};
		detail::check(ell_session_set_timeout(handle(), timeout.count(), &err), err);
	}
	[[nodiscard]] std::chrono::milliseconds get_timeout() const {
		return std::chrono::milliseconds(ell_session_get_timeout(handle()));
	}

	void set_cflags(std::uint64_t cflags) {
		ell_error err{};
		detail::check(ell_session_set_cflags(handle(), cflags, &err), err);
	}
	[[nodiscard]] std::uint64_t get_cflags() const { return ell_session_get_cflags(handle()); }

	void set_ioflags(std::uint32_t ioflags) {
		ell_error err{};
		detail::check(ell_session_set_ioflags(handle(), ioflags, &err), err);
	}
	[[nodiscard]] std::uint32_t get_ioflags() const { return ell_session_get_ioflags(handle()); }

	void set_user_flags(std::uint64_t user_flags) {
		ell_error err{};
		detail::check(ell_session_set_user_flags(handle(), user_flags, &err), err);
	}
	[[nodiscard]] std::uint64_t get_user_flags() const { return ell_session_get_user_flags(handle()); }

	void set_trace_id(std::uint64_t trace_id) {
		ell_error err{};
		detail::check(ell_session_set_trace_id(handle(), trace_id, &err), err);
	}
	[[nodiscard]] std::uint64_t get_trace_id() const { return ell_session_get_trace_id(handle()); }

	// The timestamp written with data; {0, 0} means "now" (the default).
	void set_timestamp(const ::ioremap::elliptics::timestamp &ts) { set_timestamp(ts.tsec, ts.tnsec); }
	void set_timestamp(std::uint64_t tsec, std::uint64_t tnsec) {
		ell_error err{};
		detail::check(ell_session_set_timestamp(handle(), tsec, tnsec, &err), err);
	}
	[[nodiscard]] ::ioremap::elliptics::timestamp get_timestamp() const {
		::ioremap::elliptics::timestamp ts;
		ell_session_get_timestamp(handle(), &ts.tsec, &ts.tnsec);
		return ts;
	}

	void set_namespace(std::string_view ns) {
		ell_error err{};
		detail::check(ell_session_set_namespace(handle(), ns.data(), ns.size(), &err), err);
	}
	[[nodiscard]] std::string get_namespace() const {
		std::string out(64, '\0');
		for (;;) {
			std::size_t n = ell_session_get_namespace(handle(), &out[0], out.size());
			if (n <= out.size()) {
				out.resize(n);
				return out;
			}
			out.resize(n);
		}
	}

	void set_checker(checkers checker) {
		ell_error err{};
		detail::check(ell_session_set_checker(handle(), static_cast<std::int32_t>(checker), &err), err);
	}
	[[nodiscard]] checkers get_checker() const { return static_cast<checkers>(ell_session_get_checker(handle())); }

	void set_filter(filters filter) {
		ell_error err{};
		detail::check(ell_session_set_filter(handle(), static_cast<std::int32_t>(filter), &err), err);
	}
	[[nodiscard]] filters get_filter() const { return static_cast<filters>(ell_session_get_filter(handle())); }

	// ---- local computations (no network) ----

	// SHA-512 of data, namespace-prefixed when the session has one.
	[[nodiscard]] id transform(std::string_view data) const {
		std::uint8_t out[ELL_ID_SIZE] = {};
		ell_error err{};
		detail::check(ell_session_transform(handle(), data.data(), data.size(), out, &err), err);
		return id(out);
	}

	// The ID of k in this session (namespace applied; a raw ID as it is).
	[[nodiscard]] id key_id(const key &k) const {
		ell_key c = k.to_c();
		std::uint8_t out[ELL_ID_SIZE] = {};
		ell_error err{};
		detail::check(ell_session_key_id(handle(), &c, out, &err), err);
		return id(out);
	}

	// The node that owns k in group, from the route table.
	[[nodiscard]] address_info lookup_address(const key &k, std::uint32_t group) const {
		ell_key c = k.to_c();
		std::string buf(64, '\0');
		for (;;) {
			std::int32_t backend = 0;
			ell_error err{};
			std::int32_t rc =
				ell_session_lookup_address(handle(), &c, group, &buf[0], buf.size(), &backend, &err);
			if (rc == ELL_EMSGSIZE && buf.size() < 65536) {
				buf.resize(buf.size() * 4);
				continue;
			}
			detail::check(rc, err);
			buf.resize(buf.find('\0') == std::string::npos ? buf.size() : buf.find('\0'));
			return address_info{std::move(buf), backend};
		}
	}

	// The node's current route table.
	[[nodiscard]] std::vector<route> get_routes() const { return node::routes_of(node_->get()); }

	// ---- data calls (asynchronous; keys and data are copied before return) ----

	// Writes data at offset to the session's groups; one entry per group.
	async_result write_data(const key &k, std::string_view data, std::uint64_t offset = 0) const {
		ell_key c = k.to_c();
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_write_data(h, &c, data.data(), data.size(), offset, done, out, err);
		});
	}

	// Reads size bytes at offset (0: to the end) from the first group that
	// has the key.
	async_result read_data(const key &k, std::uint64_t offset = 0, std::uint64_t size = 0) const {
		ell_key c = k.to_c();
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_read_data(h, &c, offset, size, done, out, err);
		});
	}

	// Reads from the group with the newest copy.
	async_result read_latest(const key &k, std::uint64_t offset = 0, std::uint64_t size = 0) const {
		ell_key c = k.to_c();
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_read_latest(h, &c, offset, size, done, out, err);
		});
	}

	// Where and what the object is, from the first group that has it.
	async_result lookup(const key &k) const {
		ell_key c = k.to_c();
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_lookup(h, &c, done, out, err);
		});
	}

	// Removes the key from every session group; one entry per group.
	async_result remove(const key &k) const {
		ell_key c = k.to_c();
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_remove(h, &c, done, out, err);
		});
	}

	// Reads many keys: one entry per key found (result_entry::key_index says
	// which); missing keys give no entry with the default filter.
	async_result bulk_read(const std::vector<key> &keys) const {
		std::vector<ell_key> c;
		c.reserve(keys.size());
		for (const key &k : keys)
			c.push_back(k.to_c());
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_bulk_read(h, c.data(), c.size(), done, out, err);
		});
	}

	// Writes many keys: entries of every key and group (key_index says which
	// key); fails if any key's write fails its checker.
	async_result bulk_write(const std::vector<std::pair<key, std::string>> &items) const {
		std::vector<ell_key> keys;
		std::vector<const void *> datas;
		std::vector<std::uint64_t> sizes;
		keys.reserve(items.size());
		datas.reserve(items.size());
		sizes.reserve(items.size());
		for (const auto &item : items) {
			keys.push_back(item.first.to_c());
			datas.push_back(item.second.data());
			sizes.push_back(item.second.size());
		}
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_bulk_write(h, keys.data(), datas.data(), sizes.data(), items.size(), done, out,
						      err);
		});
	}

	[[nodiscard]] ell_session_t native_handle() const { return handle(); }

private:
	session(std::shared_ptr<detail::node_handle> n, detail::session_handle h) noexcept
		: node_(std::move(n)), handle_(std::move(h)) {}

	ell_session_t handle() const {
		if (!handle_)
			throw std::logic_error("elliptics::session: moved from");
		return handle_.get();
	}

	// Declared first so that it is destroyed last: the node outlives its
	// session handle.
	std::shared_ptr<detail::node_handle> node_;
	detail::session_handle handle_;
};

static_assert(std::is_nothrow_move_constructible<node>::value && std::is_nothrow_move_assignable<node>::value,
	      "node moves must not throw");
static_assert(std::is_nothrow_move_constructible<session>::value && std::is_nothrow_move_assignable<session>::value,
	      "session moves must not throw");
static_assert(std::is_nothrow_move_constructible<async_result>::value &&
		      std::is_nothrow_move_assignable<async_result>::value,
	      "async_result moves must not throw");
static_assert(!std::is_copy_constructible<node>::value && !std::is_copy_constructible<session>::value &&
		      !std::is_copy_constructible<async_result>::value,
	      "handles are move-only");

} // namespace elliptics
} // namespace ioremap

// The original's spelling is ioremap::elliptics; `elliptics::` is shorter.
// Define ELLIPTICS_NO_NAMESPACE_ALIAS if the name is taken.
#ifndef ELLIPTICS_NO_NAMESPACE_ALIAS
namespace elliptics = ioremap::elliptics;
#endif

#endif // ELLIPTICS_SESSION_HPP
