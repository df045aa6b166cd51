// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice How the oracle reads a source.
enum SourceKind {
    None,
    Feed, // called: latestRoundData
    Recorded, // a pushed feed that records its rounds in the oracle: read from the slot, no call
    SpotTwap // a spot-TWAP adapter: its pool's twap(window), read directly
}

/// @dev A market's source as the oracle reads it on every trade: one storage slot, one SLOAD. Bits, low to
/// high: kind (8), decimals (8), the market's source count (8, the same in each of its slots, so the first
/// slot read gives it), heartbeat in seconds (32), and 200 bits of data that depend on the kind: the feed's
/// address (Feed); the pool's address and the window above it (SpotTwap); the round's updatedAt (48) and
/// its answer (int128) above it (Recorded). Packed by hand, as v4-core packs Slot0: a struct would be read
/// back one field at a time.
type PackedSource is uint256;

using PackedSourceLib for PackedSource global;

/// @title PackedSourceLib
/// @notice Packs and reads a PackedSource.
library PackedSourceLib {
    uint256 private constant DECIMALS_SHIFT = 8;
    uint256 private constant COUNT_SHIFT = 16;
    uint256 private constant HEARTBEAT_SHIFT = 24;
    uint256 private constant DATA_SHIFT = 56;
    uint256 private constant ADDRESS_BITS = 160;
    uint256 private constant UPDATED_AT_BITS = 48;
    uint256 private constant HEADER_MASK = (1 << DATA_SHIFT) - 1;

    /// @notice A source's slot.
    function pack(
        SourceKind kind_,
        uint8 decimals_,
        uint8 count_,
        uint32 heartbeat_,
        uint200 data_
    ) internal pure returns (PackedSource) {
        return
            PackedSource.wrap(
                uint256(kind_) |
                    (uint256(decimals_) << DECIMALS_SHIFT) |
                    (uint256(count_) << COUNT_SHIFT) |
                    (uint256(heartbeat_) << HEARTBEAT_SHIFT) |
                    (uint256(data_) << DATA_SHIFT)
            );
    }

    /// @notice The data of a Feed (its address) or of a SpotTwap source (the pool and the window).
    function target(address target_, uint32 window_) internal pure returns (uint200) {
        return (uint200(window_) << ADDRESS_BITS) | uint160(target_);
    }

    /// @notice The data of a Recorded source: its latest round.
    function round(int128 answer_, uint48 updatedAt_) internal pure returns (uint200) {
        return (uint200(uint128(answer_)) << UPDATED_AT_BITS) | updatedAt_;
    }

    /// @notice `s` with its data replaced (a new round).
    function withData(PackedSource s, uint200 data_) internal pure returns (PackedSource) {
        return PackedSource.wrap((PackedSource.unwrap(s) & HEADER_MASK) | (uint256(data_) << DATA_SHIFT));
    }

    function kind(PackedSource s) internal pure returns (SourceKind) {
        return SourceKind(uint8(PackedSource.unwrap(s)));
    }

    function decimals(PackedSource s) internal pure returns (uint8) {
        return uint8(PackedSource.unwrap(s) >> DECIMALS_SHIFT);
    }

    function count(PackedSource s) internal pure returns (uint256) {
        return uint8(PackedSource.unwrap(s) >> COUNT_SHIFT);
    }

    function heartbeat(PackedSource s) internal pure returns (uint32) {
        return uint32(PackedSource.unwrap(s) >> HEARTBEAT_SHIFT);
    }

    /// @notice The feed (Feed) or the pool (SpotTwap).
    function targetAddress(PackedSource s) internal pure returns (address) {
        return address(uint160(PackedSource.unwrap(s) >> DATA_SHIFT));
    }

    /// @notice A SpotTwap source's window (seconds).
    function window(PackedSource s) internal pure returns (uint32) {
        return uint32(PackedSource.unwrap(s) >> (DATA_SHIFT + ADDRESS_BITS));
    }

    /// @notice A Recorded source's latest round.
    function recordedRound(PackedSource s) internal pure returns (int256 answer, uint256 updatedAt) {
        uint256 data = PackedSource.unwrap(s) >> DATA_SHIFT;
        return (int128(uint128(data >> UPDATED_AT_BITS)), uint48(data));
    }
}
