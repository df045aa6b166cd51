// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IOracle, IPriceRecorder} from "../interfaces/IOracle.sol";
import {ISpotTwap, ISpotTwapSource} from "../interfaces/ISpotTwap.sol";
import {PackedSource, PackedSourceLib, SourceKind} from "./PackedSource.sol";

/// @title Oracle
/// @notice Per market, the index price is the median of the fresh sources. A source is any
/// AggregatorV3Interface: pushed feeds standing in for external exchanges, and adapters over spot
/// pools' TWAPs. A source is fresh while block.timestamp - updatedAt <= its heartbeat and its answer is
/// positive; stale sources are dropped. With an even count the median is the mean of the middle two.
/// @dev Every trade reads the index, so a market's sources cost one storage slot each and no more
/// calls than needed: a pushed feed connected to this oracle records each round into the slots of the
/// markets that list it (`recordPrice`) and is read from there, with no call; a spot-TWAP adapter
/// (`ISpotTwapSource`) is read as its pool's TWAP directly, one call instead of two, with the same
/// answer the adapter gives. Any other source is called.
contract Oracle is IOracle, IPriceRecorder, AccessControl {
    using SafeCast for int256;
    using SafeCast for uint256;

    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    uint256 public constant MAX_SOURCES = 7;
    uint8 private constant WAD_DECIMALS = 18;

    /// @notice A market's source as listed (the view of `sources`).
    struct Source {
        address feed;
        uint8 decimals;
        uint32 heartbeat; // seconds
        SourceKind kind;
    }

    /// @dev Where a recorded feed's rounds go: a market and the index of the feed among its sources.
    struct Listing {
        uint248 marketId;
        uint8 index;
    }

    mapping(uint256 marketId => PackedSource[MAX_SOURCES]) private _slots;
    /// @dev Each market's sources as listed, for the views and for unlisting (not read by a trade).
    mapping(uint256 marketId => address[]) private _feeds;
    /// @dev Each recorded feed's listings: the slots its rounds are written into.
    mapping(address feed => Listing[]) private _listings;

    event SourcesSet(uint256 indexed marketId, address[] feeds, uint32[] heartbeats);

    error NoSources();
    error TooManySources(uint256 count, uint256 max);
    error LengthMismatch(uint256 feeds, uint256 heartbeats);
    error InvalidHeartbeat(address feed);
    error DecimalsTooLarge(address feed, uint8 decimals);

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONFIG_ROLE, admin);
    }

    /// @notice Replaces a market's sources; config role only. Heartbeats in seconds. A pushed feed that
    /// records into this oracle is listed as Recorded, starting from its latest round; connect it before
    /// listing it (a feed connected later is called).
    function setSources(
        uint256 marketId,
        address[] calldata feeds,
        uint32[] calldata heartbeats
    ) external onlyRole(CONFIG_ROLE) {
        uint256 n = feeds.length;
        if (n == 0) revert NoSources();
        if (n > MAX_SOURCES) revert TooManySources(n, MAX_SOURCES);
        if (n != heartbeats.length) revert LengthMismatch(n, heartbeats.length);
        _unlist(marketId);
        PackedSource[MAX_SOURCES] storage slots = _slots[marketId];
        for (uint256 i; i < MAX_SOURCES; ++i) {
            if (i >= n) {
                slots[i] = PackedSource.wrap(0);
                continue;
            }
            if (heartbeats[i] == 0) revert InvalidHeartbeat(feeds[i]);
            PackedSource s = _sourceOf(feeds[i], heartbeats[i], uint8(n));
            slots[i] = s;
            if (s.kind() == SourceKind.Recorded) _listings[feeds[i]].push(Listing(marketId.toUint248(), uint8(i)));
        }
        _feeds[marketId] = feeds;
        emit SourcesSet(marketId, feeds, heartbeats);
    }

    /// @inheritdoc IPriceRecorder
    /// @dev No event: the record mirrors the feed's round, which the feed announces.
    function recordPrice(int256 answer, uint256 updatedAt) external {
        uint200 round = PackedSourceLib.round(answer.toInt128(), updatedAt.toUint48());
        Listing[] storage listings = _listings[msg.sender];
        uint256 n = listings.length;
        for (uint256 i; i < n; ++i) {
            Listing memory listing = listings[i];
            PackedSource[MAX_SOURCES] storage slots = _slots[listing.marketId];
            slots[listing.index] = slots[listing.index].withData(round);
        }
    }

    /// @notice A market's sources.
    function sources(uint256 marketId) external view returns (Source[] memory list) {
        address[] storage feeds = _feeds[marketId];
        list = new Source[](feeds.length);
        for (uint256 i; i < list.length; ++i) {
            PackedSource s = _slots[marketId][i];
            list[i] = Source(feeds[i], s.decimals(), s.heartbeat(), s.kind());
        }
    }

    /// @notice A market's source's latest round as the oracle reads it (in the source's decimals).
    function latestRound(uint256 marketId, uint256 index) external view returns (int256 answer, uint256 updatedAt) {
        return _round(_slots[marketId][index]);
    }

    /// @inheritdoc IOracle
    function indexPrice(uint256 marketId) external view returns (uint256 price, uint256 fresh) {
        PackedSource[MAX_SOURCES] storage slots = _slots[marketId];
        uint256[MAX_SOURCES] memory prices;
        PackedSource s = slots[0];
        uint256 n = s.count();
        // Counters below MAX_SOURCES: unchecked.
        unchecked {
            for (uint256 i; i < n; ) {
                (uint256 p, uint256 freshUntil) = _read(s);
                if (freshUntil >= block.timestamp) _insert(prices, fresh++, p);
                if (++i < n) s = slots[i];
            }
        }
        price = _median(prices, fresh);
    }

    /// @inheritdoc IOracle
    function lastIndexPrice(uint256 marketId) external view returns (uint256 price, uint256 freshUntil) {
        PackedSource[MAX_SOURCES] storage slots = _slots[marketId];
        uint256[MAX_SOURCES] memory prices;
        uint256 n = slots[0].count();
        uint256 count;
        for (uint256 i; i < n; ++i) {
            (uint256 p, uint256 until) = _read(slots[i]);
            if (p == 0 || until < freshUntil) continue;
            if (until > freshUntil) (freshUntil, count) = (until, 0);
            _insert(prices, count++, p);
        }
        price = _median(prices, count);
    }

    /// @dev A source's answer in WAD and the last second it is fresh; (0, 0) for an answer that is not
    /// positive or is dated in the future.
    function _read(PackedSource s) private view returns (uint256 price, uint256 freshUntil) {
        (int256 answer, uint256 updatedAt) = _round(s);
        if (answer <= 0 || updatedAt > block.timestamp) return (0, 0);
        uint256 scale;
        // decimals <= 18 (setSources) and updatedAt <= now: neither overflows.
        unchecked {
            scale = 10 ** (WAD_DECIMALS - s.decimals());
            freshUntil = updatedAt + s.heartbeat();
        }
        price = uint256(answer) * scale;
    }

    /// @dev A source's latest round, in its decimals. A spot TWAP is read live: as fresh as the block, as
    /// the adapter reports it.
    function _round(PackedSource s) private view returns (int256 answer, uint256 updatedAt) {
        SourceKind kind = s.kind();
        if (kind == SourceKind.Recorded) return s.recordedRound();
        if (kind == SourceKind.SpotTwap) {
            return (ISpotTwap(s.targetAddress()).twap(s.window()).toInt256(), block.timestamp);
        }
        if (kind == SourceKind.Feed) {
            (, answer, , updatedAt, ) = AggregatorV3Interface(s.targetAddress()).latestRoundData();
        }
    }

    /// @dev The slot that lists `feed`: recorded here, a spot TWAP read from its pool, or called.
    function _sourceOf(address feed, uint32 heartbeat, uint8 count) private view returns (PackedSource) {
        uint8 dec = AggregatorV3Interface(feed).decimals();
        if (dec > WAD_DECIMALS) revert DecimalsTooLarge(feed, dec);
        if (_recordsHere(feed)) {
            (, int256 answer, , uint256 updatedAt, ) = AggregatorV3Interface(feed).latestRoundData();
            uint200 round = PackedSourceLib.round(answer.toInt128(), updatedAt.toUint48());
            return PackedSourceLib.pack(SourceKind.Recorded, dec, count, heartbeat, round);
        }
        (bool isTwap, address pool, uint32 window) = _twapSourceOf(feed);
        if (isTwap) {
            return
                PackedSourceLib.pack(SourceKind.SpotTwap, dec, count, heartbeat, PackedSourceLib.target(pool, window));
        }
        return PackedSourceLib.pack(SourceKind.Feed, dec, count, heartbeat, PackedSourceLib.target(feed, 0));
    }

    /// @dev Drops the listings of a market's recorded feeds, before its sources are replaced.
    function _unlist(uint256 marketId) private {
        address[] storage feeds = _feeds[marketId];
        for (uint256 i; i < feeds.length; ++i) {
            if (_slots[marketId][i].kind() != SourceKind.Recorded) continue;
            Listing[] storage listings = _listings[feeds[i]];
            uint256 last = listings.length - 1;
            for (uint256 j; j <= last; ++j) {
                if (listings[j].marketId != marketId || listings[j].index != i) continue;
                listings[j] = listings[last];
                listings.pop();
                break;
            }
        }
    }

    /// @dev Whether `feed` says it records its rounds into this oracle (a feed without an `oracle()` view
    /// does not).
    function _recordsHere(address feed) private view returns (bool) {
        (bool ok, bytes memory ret) = feed.staticcall(abi.encodeWithSignature("oracle()"));
        return ok && ret.length == 32 && abi.decode(ret, (uint256)) == uint256(uint160(address(this)));
    }

    /// @dev Whether `feed` is a spot-TWAP adapter, and over which pool and window (a feed without a
    /// `twapSource()` view is not).
    function _twapSourceOf(address feed) private view returns (bool, address, uint32) {
        (bool ok, bytes memory ret) = feed.staticcall(abi.encodeCall(ISpotTwapSource.twapSource, ()));
        if (!ok || ret.length != 64) return (false, address(0), 0);
        (ISpotTwap pool, uint32 window) = abi.decode(ret, (ISpotTwap, uint32));
        return (true, address(pool), window);
    }

    /// @dev Inserts `p` into the sorted prefix prices[0..n) (insertion sort: at most MAX_SOURCES entries).
    /// n < MAX_SOURCES (a market has at most MAX_SOURCES sources), so every word touched is in the array:
    /// read and written without Solidity's bounds checks, as a trade pays for each.
    function _insert(uint256[MAX_SOURCES] memory prices, uint256 n, uint256 p) private pure {
        assembly ("memory-safe") {
            let at := add(prices, shl(5, n))
            for {} gt(at, prices) {} {
                let prev := mload(sub(at, 32))
                if iszero(gt(prev, p)) {
                    break
                }
                mstore(at, prev)
                at := sub(at, 32)
            }
            mstore(at, p)
        }
    }

    /// @dev The median of the sorted prices[0..n); the mean of the middle two for an even n; 0 for none.
    function _median(uint256[MAX_SOURCES] memory prices, uint256 n) private pure returns (uint256) {
        if (n == 0) return 0;
        uint256 mid = n / 2;
        return n % 2 == 1 ? prices[mid] : (prices[mid - 1] + prices[mid]) / 2;
    }
}
