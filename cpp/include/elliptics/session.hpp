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
#include <elliptics/exec.hpp>
#include <elliptics/key.hpp>
#include <elliptics/node.hpp>
#include <elliptics/result_entry.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <optional>
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

// How write_data(key, data, write_options) writes (ell_write_options).
struct write_options {
	std::uint64_t offset = 0;   // where the data goes (ignored with append)
	bool append = false;        // after the current end
	bool prepare = false;       // chunked upload: reserve total_size bytes, write at offset
	bool plain = false;         // chunked upload: a chunk at offset
	bool commit = false;        // chunked upload: the last chunk; the size becomes total_size
	bool cas_timestamp = false; // fail (-77) if the stored timestamp is newer than the write's
	std::optional<id> cas;      // write only if the stored value's SHA-512 is this (or the key is absent)
	std::uint64_t total_size = 0;
	std::chrono::milliseconds ttl{0}; // lifetime of the value; 0: none
};

// How write_file and read_file move a file (ell_file_options).
struct file_options {
	std::uint64_t chunk_size = 0;     // bytes per request, about the memory used (0: 4 MiB)
	std::chrono::milliseconds ttl{0}; // write_file: lifetime of the value; 0: none
	// Called on a library thread after every chunk with the bytes moved so
	// far and in all; an exception stops the transfer (an elliptics::error
	// with its code, anything else with -125).
	std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// An ID range for read_data_range, count_data_range and remove_data_range:
// the records whose ID is in [start, end) in group_id (0: the session's
// first group), in ID order, skipping limit_start, at most limit_num (0: no
// limit); offset and size select the part of each value read.
struct range {
	id start;
	id end;
	std::uint32_t group_id = 0;
	std::uint64_t limit_start = 0;
	std::uint64_t limit_num = 0;
	std::uint64_t offset = 0;
	std::uint64_t size = 0;
};

// Iterator flags (the original's iterator_flags).
namespace iterator_flags {
constexpr std::uint64_t data = ELL_ITERATOR_DATA;           // send each record's data
constexpr std::uint64_t no_meta = ELL_ITERATOR_NO_META;     // leave timestamps and user flags out
constexpr std::uint64_t move = ELL_ITERATOR_MOVE;           // copies: remove the source once copied
constexpr std::uint64_t overwrite = ELL_ITERATOR_OVERWRITE; // copies: overwrite newer data
} // namespace iterator_flags

// What start_iterator visits (ell_iterator_options): a node's backend by
// address, or the owner of point in group_id (0: the session's first).
struct iterator_options {
	std::string address;
	std::int32_t backend_id = 0;
	std::uint32_t group_id = 0;
	id point;
	std::vector<std::pair<id, id>> ranges; // both ends inclusive; none: every record
	timestamp time_begin;                  // {0, 0}: open
	timestamp time_end;
	std::uint64_t flags = 0;               // iterator_flags
	std::vector<std::uint32_t> copy_groups; // non-empty: a copy iterator (server-send)
	std::size_t window = 0;                // entries read ahead of the reader (0: 64)
};

namespace detail {

// The state of one write_cas(key, converter) call: the converter and its
// last result, which the library copies right after the converter returns.
struct cas_state {
	std::function<std::string(const std::string &)> converter;
	std::string result;
};

extern "C" inline std::int32_t ioremap_elliptics_cpp_cas(void *userdata, const void *current, std::uint64_t size,
							 std::int32_t exists, const void **out,
							 std::uint64_t *out_size) noexcept {
	auto *st = static_cast<cas_state *>(userdata);
	try {
		std::string cur = exists != 0 && current != nullptr
					  ? std::string(static_cast<const char *>(current), static_cast<std::size_t>(size))
					  : std::string();
		st->result = st->converter(cur);
		*out = st->result.data();
		*out_size = st->result.size();
		return ELL_OK;
	} catch (const error &e) {
		return e.status() < 0 ? e.status() : ELL_EINVAL;
	} catch (...) {
		return ELL_EINVAL; // nothing may unwind into the library
	}
}

// The progress callback of a file transfer; the state lives until the
// call completed (the library may call it until then).
extern "C" inline std::int32_t ioremap_elliptics_cpp_progress(void *userdata, std::uint64_t done,
							      std::uint64_t total) noexcept {
	auto *fn = static_cast<std::function<void(std::uint64_t, std::uint64_t)> *>(userdata);
	try {
		(*fn)(done, total);
		return ELL_OK;
	} catch (const error &e) {
		return e.status() < 0 ? e.status() : ELL_ECANCELED;
	} catch (...) {
		return ELL_ECANCELED; // nothing may unwind into the library
	}
}

inline ell_range to_c(const range &r) {
	ell_range c{};
	std::memcpy(c.start, r.start.raw(), ELL_ID_SIZE);
	std::memcpy(c.end, r.end.raw(), ELL_ID_SIZE);
	c.group_id = r.group_id;
	c.limit_start = r.limit_start;
	c.limit_num = r.limit_num;
	c.offset = r.offset;
	c.size = r.size;
	return c;
}

} // namespace detail

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

	// Writes with options: an offset, append, a lifetime, compare-and-swap
	// (by checksum or timestamp), or a step of a chunked upload.
	async_result write_data(const key &k, std::string_view data, const write_options &o) const {
		ell_key c = k.to_c();
		ell_write_options wo{};
		wo.offset = o.offset;
		wo.flags = (o.append ? ELL_WRITE_APPEND : 0u) | (o.prepare ? ELL_WRITE_PREPARE : 0u) |
			   (o.plain ? ELL_WRITE_PLAIN : 0u) | (o.commit ? ELL_WRITE_COMMIT : 0u) |
			   (o.cas_timestamp ? ELL_WRITE_CAS_TIMESTAMP : 0u);
		if (o.cas) {
			wo.has_cas = 1;
			std::memcpy(wo.cas, o.cas->raw(), ELL_ID_SIZE);
		}
		wo.total_size = o.total_size;
		wo.ttl_ms = o.ttl.count();
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_write(h, &c, data.data(), data.size(), &wo, done, out, err);
		});
	}

	// Writes data at offset only if the SHA-512 of the stored value is
	// old_csum (or the key is absent); else the call fails with -77.
	async_result write_cas(const key &k, std::string_view data, const id &old_csum, std::uint64_t offset = 0) const {
		write_options o;
		o.offset = offset;
		o.cas = old_csum;
		return write_data(k, data, o);
	}

	// A read-modify-write that loses no concurrent update: reads the newest
	// copy, writes converter(current) ("" for an absent key) at offset if
	// the value did not change meanwhile, retrying up to count times. The
	// converter runs on a library thread; an elliptics::error it throws ends
	// the call with its code (other exceptions: -22).
	async_result write_cas(const key &k, std::function<std::string(const std::string &)> converter,
			       std::uint64_t offset = 0, int count = 10) const {
		auto st = std::make_shared<detail::cas_state>();
		st->converter = std::move(converter);
		ell_key c = k.to_c();
		ell_session_t h = handle();
		async_result r = async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_write_cas(h, &c, &detail::ioremap_elliptics_cpp_cas, st.get(), offset, count,
						     done, out, err);
		});
		r.add_listener([st](ell_async_t) {}); // the converter lives until the call completed
		return r;
	}

	// Writes size bytes of the local file from local_offset (size 0: to
	// the end of the file) to the key, as the original (note the order:
	// local_offset before offset). The library reads the file a chunk at a
	// time, so memory stays at about one chunk. offset 0 is a chunked upload
	// that replaces the object (invisible until its last chunk); a non-zero
	// offset writes into the object as it is, chunk by chunk, as
	// write_data at that offset. Entries: the last request's, one per
	// group. A file that cannot be read throws at once.
	async_result write_file(const key &k, const std::string &file, std::uint64_t local_offset = 0,
				std::uint64_t offset = 0, std::uint64_t size = 0, const file_options &o = {}) const {
		ell_file_options fo{};
		fo.offset = offset;
		fo.local_offset = local_offset;
		fo.size = size;
		return transfer_file(true, k, file, fo, o);
	}

	// Reads size bytes of the object from offset (0: to its end) into the
	// local file, created if missing, in ranged reads of a chunk each. The
	// file is truncated only once the first chunk arrived (a missing key
	// leaves it as it was). One entry: offset, size (the bytes written to
	// the file) and total_size, no data. A path that cannot be written
	// throws at once.
	async_result read_file(const key &k, const std::string &file, std::uint64_t offset = 0, std::uint64_t size = 0,
			       const file_options &o = {}) const {
		ell_file_options fo{};
		fo.offset = offset;
		fo.size = size;
		return transfer_file(false, k, file, fo, o);
	}

	// The steps of a chunked upload: the value is invisible until the commit.
	async_result write_prepare(const key &k, std::string_view data, std::uint64_t offset, std::uint64_t psize) const {
		write_options o;
		o.prepare = true;
		o.offset = offset;
		o.total_size = psize;
		return write_data(k, data, o);
	}
	async_result write_plain(const key &k, std::string_view data, std::uint64_t offset) const {
		write_options o;
		o.plain = true;
		o.offset = offset;
		return write_data(k, data, o);
	}
	async_result write_commit(const key &k, std::string_view data, std::uint64_t offset, std::uint64_t csize) const {
		write_options o;
		o.commit = true;
		o.offset = offset;
		o.total_size = csize;
		return write_data(k, data, o);
	}

	// The records of r, sorted by ID, with their data.
	async_result read_data_range(const range &r) const {
		ell_range c = detail::to_c(r);
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_read_range(h, &c, done, out, err);
		});
	}
	// One entry whose count() is the number of records of r.
	async_result count_data_range(const range &r) const {
		ell_range c = detail::to_c(r);
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_count_range(h, &c, done, out, err);
		});
	}
	// Removes the records of r: one entry whose count() is how many.
	async_result remove_data_range(const range &r) const {
		ell_range c = detail::to_c(r);
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_remove_range(h, &c, done, out, err);
		});
	}

	// Starts a server-side iterator: iterate the result for its entries as
	// the node sends them (iterator_id(), data(), ...); reading ahead is
	// bounded by o.window, so a reader that stops holds the node back.
	async_result start_iterator(const iterator_options &o) const {
		ell_iterator_options c{};
		c.address = o.address.empty() ? nullptr : o.address.c_str();
		c.backend_id = o.backend_id;
		c.group_id = o.group_id;
		std::memcpy(c.id, o.point.raw(), ELL_ID_SIZE);
		std::vector<ell_iterator_range> ranges(o.ranges.size());
		for (std::size_t i = 0; i < ranges.size(); ++i) {
			std::memcpy(ranges[i].start, o.ranges[i].first.raw(), ELL_ID_SIZE);
			std::memcpy(ranges[i].end, o.ranges[i].second.raw(), ELL_ID_SIZE);
		}
		c.ranges = ranges.data();
		c.range_count = ranges.size();
		c.time_begin_tsec = o.time_begin.tsec;
		c.time_begin_tnsec = o.time_begin.tnsec;
		c.time_end_tsec = o.time_end.tsec;
		c.time_end_tnsec = o.time_end.tnsec;
		c.flags = o.flags;
		c.copy_groups = o.copy_groups.data();
		c.copy_group_count = o.copy_groups.size();
		c.window = o.window;
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_start_iterator(h, &c, done, out, err);
		});
	}

	// A copy iterator: the node writes every record to groups itself; one
	// entry per record and destination group.
	async_result start_copy_iterator(iterator_options o, std::vector<std::uint32_t> groups) const {
		o.copy_groups = std::move(groups);
		return start_iterator(o);
	}

	// Pause, continue or cancel the iterator iterator_id on the node at
	// address: one entry with its progress; not_found_error when the node
	// does not know it.
	async_result pause_iterator(const std::string &address, std::uint64_t iterator_id) const {
		return iterator_control(address, iterator_id, ELL_ITERATOR_PAUSE);
	}
	async_result continue_iterator(const std::string &address, std::uint64_t iterator_id) const {
		return iterator_control(address, iterator_id, ELL_ITERATOR_CONTINUE);
	}
	async_result cancel_iterator(const std::string &address, std::uint64_t iterator_id) const {
		return iterator_control(address, iterator_id, ELL_ITERATOR_CANCEL);
	}

	// Asks the nodes holding keys in the session's first group to copy them
	// to groups (flags: iterator_flags::move, overwrite); one entry per key
	// and group; fails if any copy failed (-77: the destination kept newer
	// data).
	async_result server_send(const std::vector<key> &keys, const std::vector<std::uint32_t> &groups,
				 std::uint64_t flags = 0) const {
		std::vector<ell_key> c;
		c.reserve(keys.size());
		for (const key &k : keys)
			c.push_back(k.to_c());
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_server_send(h, c.data(), c.size(), groups.data(), groups.size(), flags, done,
						       out, err);
		});
	}

	[[nodiscard]] ell_session_t native_handle() const { return handle(); }

	// ---- server-side scripts (EXEC) ----
	//
	// Scripts are Starlark programs stored in the cluster and run on a node,
	// next to the data. Failures are exceptions like any call's: a budget
	// exceeded -90 (EMSGSIZE), the time limit timeout_error, a script error
	// -22 (EINVAL), a missing script not_found_error.

	// Runs event ("script@function") on the node that owns k, with data as
	// the function's input, on a thread of its own: the future holds the
	// result or the call's exception. The call runs on a clone of this
	// session (its settings now), which the future keeps alive; as with any
	// std::async future, destroying it waits for the call.
	[[nodiscard]] std::future<exec_result> exec(const key &k, const std::string &event, const std::string &data = {},
						    const exec_limits &limits = {}) const {
		auto snap = std::make_shared<session>(clone());
		return std::async(std::launch::async, [snap, k, event, data, limits]() {
			ell_key c = k.to_c();
			ell_exec_limits l = limits.to_c();
			detail::json_doc out;
			ell_error err{};
			detail::check(ell_session_exec(snap->handle(), &c, event.c_str(), data.data(), data.size(), &l,
						       out.out(), &err),
				      err);
			return detail::exec_result_of(detail::json::parse(out.text()));
		});
	}

	// Runs event once on every node of the route table (a fan-out: the
	// script's key is None); one result per node in address order, a node
	// that failed having its error set. Fails only if every node failed.
	[[nodiscard]] std::future<std::vector<exec_result>> exec_all(const std::string &event,
								       const std::string &data = {},
								       const exec_limits &limits = {}) const {
		auto snap = std::make_shared<session>(clone());
		return std::async(std::launch::async, [snap, event, data, limits]() {
			ell_exec_limits l = limits.to_c();
			detail::json_doc out;
			ell_error err{};
			detail::check(ell_session_exec(snap->handle(), nullptr, event.c_str(), data.data(), data.size(), &l,
						       out.out(), &err),
				      err);
			return results_of(out);
		});
	}

	// The job manager, synchronous: runs event on the owner of every key,
	// concurrency at a time (0: 16); one result per key, in order, failed
	// jobs with their error set.
	[[nodiscard]] std::vector<exec_result> run_jobs(const std::string &event, const std::vector<std::string> &keys,
							const std::string &data = {}, int concurrency = 0,
							const exec_limits &limits = {}) const {
		std::vector<const char *> ks;
		ks.reserve(keys.size());
		for (const auto &k : keys)
			ks.push_back(k.c_str());
		ell_exec_limits l = limits.to_c();
		detail::json_doc out;
		ell_error err{};
		detail::check(ell_session_run_jobs(handle(), event.c_str(), ks.data(), ks.size(), data.data(), data.size(),
						   concurrency, &l, nullptr, nullptr, out.out(), &err),
			      err);
		return results_of(out);
	}

	// Stores source as the next version of script name (1 for a new one).
	script_info put_script(const std::string &name, const std::string &source) const {
		detail::json_doc out;
		ell_error err{};
		detail::check(ell_session_script_put(handle(), name.c_str(), source.data(), source.size(), out.out(), &err),
			      err);
		script_info info;
		detail::script_info_of(detail::json::parse(out.text()), info);
		return info;
	}

	// Version version of script name (0: the latest), with its source.
	[[nodiscard]] script_record get_script(const std::string &name, std::uint64_t version = 0) const {
		detail::json_doc out;
		ell_error err{};
		detail::check(ell_session_script_get(handle(), name.c_str(), version, out.out(), &err), err);
		detail::json j = detail::json::parse(out.text());
		script_record rec;
		detail::script_info_of(j, rec);
		rec.source = j["source"].as_string();
		return rec;
	}

	// Every stored script's latest version, by name.
	[[nodiscard]] std::vector<script_info> list_scripts() const {
		detail::json_doc out;
		ell_error err{};
		detail::check(ell_session_script_list(handle(), out.out(), &err), err);
		std::vector<script_info> list;
		for (const auto &j : detail::json::parse(out.text()).arr) {
			list.emplace_back();
			detail::script_info_of(j, list.back());
		}
		return list;
	}

	// Removes script name, every version of it.
	void remove_script(const std::string &name) const {
		ell_error err{};
		detail::check(ell_session_script_remove(handle(), name.c_str(), &err), err);
	}

private:
	static std::vector<exec_result> results_of(const detail::json_doc &out) {
		std::vector<exec_result> rs;
		for (const auto &j : detail::json::parse(out.text()).arr)
			rs.push_back(detail::exec_result_of(j));
		return rs;
	}

	session(std::shared_ptr<detail::node_handle> n, detail::session_handle h) noexcept
		: node_(std::move(n)), handle_(std::move(h)) {}

	async_result iterator_control(const std::string &address, std::uint64_t iterator_id, std::int32_t action) const {
		ell_session_t h = handle();
		return async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return ell_session_iterator_control(h, address.c_str(), iterator_id, action, done, out, err);
		});
	}

	// write_file (write) or read_file with the offsets in fo already set.
	async_result transfer_file(bool write, const key &k, const std::string &file, ell_file_options fo,
				   const file_options &o) const {
		fo.chunk_size = o.chunk_size;
		fo.ttl_ms = o.ttl.count();
		std::shared_ptr<std::function<void(std::uint64_t, std::uint64_t)>> progress;
		if (o.progress) {
			progress = std::make_shared<std::function<void(std::uint64_t, std::uint64_t)>>(o.progress);
			fo.progress = &detail::ioremap_elliptics_cpp_progress;
			fo.userdata = progress.get();
		}
		ell_key c = k.to_c();
		ell_session_t h = handle();
		async_result r = async_result::start([&](const ell_completion *done, ell_async_t *out, ell_error *err) {
			return write ? ell_session_write_file(h, &c, file.c_str(), &fo, done, out, err)
				     : ell_session_read_file(h, &c, file.c_str(), &fo, done, out, err);
		});
		if (progress)
			r.add_listener([progress](ell_async_t) {}); // the callback lives until the call completed
		return r;
	}

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
