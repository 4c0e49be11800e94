// key.hpp: IDs (64 bytes on the ring) and keys (a name or an ID, with an
// optional column).
#ifndef ELLIPTICS_KEY_HPP
#define ELLIPTICS_KEY_HPP

#include <elliptics.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace ioremap {
namespace elliptics {

// id is a 64-byte position on the ring (ELL_ID_SIZE), compared bytewise.
class id {
public:
	static constexpr std::size_t size = ELL_ID_SIZE;
	using bytes = std::array<std::uint8_t, ELL_ID_SIZE>;

	// The zero ID.
	id() noexcept : bytes_{} {}
	explicit id(const bytes &b) noexcept : bytes_(b) {}
	// Copies ELL_ID_SIZE bytes from raw.
	explicit id(const std::uint8_t *raw) noexcept { std::memcpy(bytes_.data(), raw, size); }

	// Parses hex (case-insensitive). A shorter string fills the leading bytes
	// and leaves the rest zero; throws std::invalid_argument on a bad digit, an
	// odd length or more than 128 digits.
	static id from_hex(std::string_view hex) {
		if (hex.size() % 2 != 0 || hex.size() > 2 * size)
			throw std::invalid_argument("elliptics::id: bad hex length " + std::to_string(hex.size()));
		id out;
		for (std::size_t i = 0; i < hex.size() / 2; ++i)
			out.bytes_[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
		return out;
	}

	// 128 lowercase hex digits.
	[[nodiscard]] std::string to_string() const {
		static const char digits[] = "0123456789abcdef";
		std::string s(2 * size, '0');
		for (std::size_t i = 0; i < size; ++i) {
			s[2 * i] = digits[bytes_[i] >> 4];
			s[2 * i + 1] = digits[bytes_[i] & 0xf];
		}
		return s;
	}

	[[nodiscard]] const bytes &data() const noexcept { return bytes_; }
	[[nodiscard]] const std::uint8_t *raw() const noexcept { return bytes_.data(); }
	[[nodiscard]] bool is_zero() const noexcept {
		return std::all_of(bytes_.begin(), bytes_.end(), [](std::uint8_t b) { return b == 0; });
	}

	friend bool operator==(const id &a, const id &b) noexcept { return a.bytes_ == b.bytes_; }
	friend bool operator!=(const id &a, const id &b) noexcept { return a.bytes_ != b.bytes_; }
	friend bool operator<(const id &a, const id &b) noexcept { return a.bytes_ < b.bytes_; }
	friend bool operator>(const id &a, const id &b) noexcept { return a.bytes_ > b.bytes_; }
	friend bool operator<=(const id &a, const id &b) noexcept { return a.bytes_ <= b.bytes_; }
	friend bool operator>=(const id &a, const id &b) noexcept { return a.bytes_ >= b.bytes_; }

	friend std::ostream &operator<<(std::ostream &os, const id &i) { return os << i.to_string(); }

private:
	static std::uint8_t nibble(char c) {
		if (c >= '0' && c <= '9')
			return static_cast<std::uint8_t>(c - '0');
		if (c >= 'a' && c <= 'f')
			return static_cast<std::uint8_t>(c - 'a' + 10);
		if (c >= 'A' && c <= 'F')
			return static_cast<std::uint8_t>(c - 'A' + 10);
		throw std::invalid_argument(std::string("elliptics::id: bad hex digit '") + c + "'");
	}

	bytes bytes_;
};

// key names an object: by name (turned into an ID by the session, with its
// namespace) or by a raw ID; optionally one column of the object ("" is the
// default column). Implicitly made from a string, so calls take "name".
class key {
public:
	key() = default;
	key(std::string name) : name_(std::move(name)) {}                        // NOLINT: implicit on purpose
	key(const char *name) : name_(name != nullptr ? name : "") {}            // NOLINT: implicit on purpose
	key(std::string_view name) : name_(name) {}                              // NOLINT: implicit on purpose
	key(const ::ioremap::elliptics::id &raw) : id_(raw), by_id_(true) {}     // NOLINT: implicit on purpose
	key(std::string name, std::string column) : name_(std::move(name)), column_(std::move(column)) {}
	key(const ::ioremap::elliptics::id &raw, std::string column)
		: id_(raw), by_id_(true), column_(std::move(column)) {}

	// True for a key made from a raw ID.
	[[nodiscard]] bool by_id() const noexcept { return by_id_; }
	// The name ("" for a key made from an ID).
	[[nodiscard]] const std::string &remote() const noexcept { return name_; }
	// The raw ID (zero for a key made from a name: use session::key_id).
	[[nodiscard]] const ::ioremap::elliptics::id &raw_id() const noexcept { return id_; }
	[[nodiscard]] const std::string &column() const noexcept { return column_; }

	// The C view of the key; valid while this key lives and is unchanged.
	[[nodiscard]] ell_key to_c() const noexcept {
		ell_key k{};
		k.name = name_.data();
		k.name_len = name_.size();
		k.has_id = by_id_ ? 1 : 0;
		if (by_id_)
			std::memcpy(k.id, id_.raw(), ELL_ID_SIZE);
		k.column = column_.empty() ? nullptr : column_.data();
		k.column_len = column_.size();
		return k;
	}

	// The name, or the ID's hex, with "/column" when there is one.
	[[nodiscard]] std::string to_string() const {
		std::string s = by_id_ ? id_.to_string() : name_;
		if (!column_.empty())
			s += "/" + column_;
		return s;
	}

	friend std::ostream &operator<<(std::ostream &os, const key &k) { return os << k.to_string(); }

private:
	std::string name_;
	::ioremap::elliptics::id id_;
	bool by_id_ = false;
	std::string column_;
};

} // namespace elliptics
} // namespace ioremap

namespace std {
template <>
struct hash<ioremap::elliptics::id> {
	size_t operator()(const ioremap::elliptics::id &i) const noexcept {
		// IDs are hashes already: their first bytes are well spread.
		size_t h = 0;
		std::memcpy(&h, i.raw(), sizeof(h));
		return h;
	}
};
} // namespace std

#endif // ELLIPTICS_KEY_HPP
