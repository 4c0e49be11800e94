// result_entry.hpp: the outcome of one command in one group, copied out of
// the library's memory.
#ifndef ELLIPTICS_RESULT_ENTRY_HPP
#define ELLIPTICS_RESULT_ENTRY_HPP

#include <elliptics.h>
#include <elliptics/error.hpp>
#include <elliptics/key.hpp>

#include <cstdint>
#include <ostream>
#include <string>

namespace ioremap {
namespace elliptics {

// An object's timestamp: seconds and nanoseconds since the Unix epoch.
struct timestamp {
	std::uint64_t tsec = 0;
	std::uint64_t tnsec = 0;

	friend bool operator==(const timestamp &a, const timestamp &b) noexcept {
		return a.tsec == b.tsec && a.tnsec == b.tnsec;
	}
	friend bool operator!=(const timestamp &a, const timestamp &b) noexcept { return !(a == b); }
	friend bool operator<(const timestamp &a, const timestamp &b) noexcept {
		return a.tsec != b.tsec ? a.tsec < b.tsec : a.tnsec < b.tnsec;
	}
};

// result_entry is one entry of a call's result: everything is copied, so it
// outlives the async_result it came from.
class result_entry {
public:
	result_entry() = default;

	// Copies e (which lives in the library's memory).
	explicit result_entry(const ell_entry &e)
		: status_(e.status), group_id_(e.group_id), backend_id_(e.backend_id), record_flags_(e.record_flags),
		  address_(str(e.address)), error_(str(e.error)), id_(e.id), checksum_(e.checksum), path_(str(e.path)),
		  column_(str(e.column)), offset_(e.offset), size_(e.size), total_size_(e.total_size),
		  timestamp_{e.tsec, e.tnsec}, user_flags_(e.user_flags), key_index_(e.key_index),
		  data_(e.data != nullptr ? std::string(reinterpret_cast<const char *>(e.data),
							static_cast<std::size_t>(e.data_size))
					  : std::string()) {
		// Every entry of the library is followed by its extension (elliptics.h).
		const ell_entry_ext &x = *reinterpret_cast<const ell_entry_ext *>(&e + 1);
		expire_ = ::ioremap::elliptics::timestamp{x.expire_tsec, x.expire_tnsec};
		count_ = x.count;
		iterator_id_ = x.iterator_id;
		iterated_keys_ = x.iterated_keys;
		total_keys_ = x.total_keys;
		iterator_state_ = x.iterator_state;
	}

	// ELL_OK or a negative ELL_E* code.
	[[nodiscard]] int status() const noexcept { return status_; }
	[[nodiscard]] bool is_ok() const noexcept { return status_ == 0; }
	// The status and message as an error_info (code 0 when the entry is ok).
	[[nodiscard]] error_info error() const { return error_info(status_, error_); }
	// The message when status() != 0, else "".
	[[nodiscard]] const std::string &error_message() const noexcept { return error_; }

	[[nodiscard]] std::uint32_t group_id() const noexcept { return group_id_; }
	// -1 when unknown.
	[[nodiscard]] std::int32_t backend_id() const noexcept { return backend_id_; }
	[[nodiscard]] std::uint64_t record_flags() const noexcept { return record_flags_; }
	// "host:port" of the node that answered; "" if none could be reached.
	[[nodiscard]] const std::string &address() const noexcept { return address_; }
	[[nodiscard]] const ::ioremap::elliptics::id &id() const noexcept { return id_; }
	// Zero unless requested.
	[[nodiscard]] const ::ioremap::elliptics::id &checksum() const noexcept { return checksum_; }
	// Where the backend keeps the object; may be "".
	[[nodiscard]] const std::string &path() const noexcept { return path_; }
	// "" for the default column.
	[[nodiscard]] const std::string &column() const noexcept { return column_; }
	// Offset of the data in the object.
	[[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
	// Bytes written or read.
	[[nodiscard]] std::uint64_t size() const noexcept { return size_; }
	// Size of the whole object.
	[[nodiscard]] std::uint64_t total_size() const noexcept { return total_size_; }
	[[nodiscard]] const ::ioremap::elliptics::timestamp &timestamp() const noexcept { return timestamp_; }
	[[nodiscard]] std::uint64_t user_flags() const noexcept { return user_flags_; }
	// Index of the key in a bulk call, else 0.
	[[nodiscard]] std::uint64_t key_index() const noexcept { return key_index_; }
	// The data read ("" for other commands).
	[[nodiscard]] const std::string &data() const noexcept { return data_; }
	// When the value expires; {0, 0} when it has no lifetime.
	[[nodiscard]] const ::ioremap::elliptics::timestamp &expire() const noexcept { return expire_; }
	// count_data_range, remove_data_range: the records counted or removed.
	[[nodiscard]] std::uint64_t count() const noexcept { return count_; }
	// Iterator entries: the iterator's id on its node (address()), its
	// progress when the entry was sent, and its state (ELL_ITERATOR_STATE_*,
	// 0 when not reported).
	[[nodiscard]] std::uint64_t iterator_id() const noexcept { return iterator_id_; }
	[[nodiscard]] std::uint64_t iterated_keys() const noexcept { return iterated_keys_; }
	[[nodiscard]] std::uint64_t total_keys() const noexcept { return total_keys_; }
	[[nodiscard]] std::uint32_t iterator_state() const noexcept { return iterator_state_; }

	friend std::ostream &operator<<(std::ostream &os, const result_entry &e) {
		os << "group " << e.group_id_ << " " << (e.address_.empty() ? "-" : e.address_) << " status "
		   << e.status_;
		if (!e.error_.empty())
			os << " (" << e.error_ << ")";
		return os << " size " << e.size_ << "/" << e.total_size_;
	}

private:
	static std::string str(const char *s) { return s != nullptr ? std::string(s) : std::string(); }

	int status_ = 0;
	std::uint32_t group_id_ = 0;
	std::int32_t backend_id_ = -1;
	std::uint64_t record_flags_ = 0;
	std::string address_;
	std::string error_;
	::ioremap::elliptics::id id_;
	::ioremap::elliptics::id checksum_;
	std::string path_;
	std::string column_;
	std::uint64_t offset_ = 0;
	std::uint64_t size_ = 0;
	std::uint64_t total_size_ = 0;
	::ioremap::elliptics::timestamp timestamp_;
	std::uint64_t user_flags_ = 0;
	std::uint64_t key_index_ = 0;
	std::string data_;
	::ioremap::elliptics::timestamp expire_;
	std::uint64_t count_ = 0;
	std::uint64_t iterator_id_ = 0;
	std::uint64_t iterated_keys_ = 0;
	std::uint64_t total_keys_ = 0;
	std::uint32_t iterator_state_ = 0;
};

} // namespace elliptics
} // namespace ioremap

#endif // ELLIPTICS_RESULT_ENTRY_HPP
